from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext as _
from rest_framework import serializers

from .models import Department, Membership, User


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "name", "code", "parent", "is_active", "default_sla_policy"]

    def validate_code(self, value: str) -> str:
        value = value.strip().upper()
        if not value.isalnum() or not value[0].isalpha() or not value.isascii():
            raise serializers.ValidationError(
                _("use letters and digits only, starting with a letter")
            )
        return value

    def validate_parent(self, parent: Department | None) -> Department | None:
        node = parent
        while node is not None and self.instance is not None:
            if node.pk == self.instance.pk:
                raise serializers.ValidationError(_("a department cannot be its own ancestor"))
            node = node.parent
        return parent


class MembershipSerializer(serializers.ModelSerializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "username", "role"]


class UserSerializer(serializers.ModelSerializer):
    password = serializers.CharField(
        write_only=True, required=False, style={"input_type": "password"}
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "password",
            "department",
            "is_active",
        ]

    def validate(self, attrs: dict) -> dict:
        password = attrs.get("password")
        if password:
            candidate = User(**{k: v for k, v in attrs.items() if k != "password"})
            try:
                validate_password(password, candidate)
            except Exception as error:  # django ValidationError: name the field
                raise serializers.ValidationError({"password": list(error.messages)}) from None
        return attrs
