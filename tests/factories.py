"""factory_boy factories for the domain."""

import factory
from django.utils import timezone

from departments.models import Department, Membership, User
from tickets.models import Service


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    name = factory.Sequence(lambda n: f"部门{n}")
    code = factory.Sequence(lambda n: f"D{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Sequence(lambda n: f"名{n}")
    last_name = "张"
    department = factory.SubFactory(DepartmentFactory)
    password = factory.PostGenerationMethodCall("set_password", "pw-Secret-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


def make_member(provider: Department, role: str, **kwargs) -> User:
    """A user (home department from kwargs, else a new one) holding `role` in `provider`."""
    user = UserFactory(**kwargs)
    Membership.objects.update_or_create(user=user, department=provider, defaults={"role": role})
    return user


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    department = factory.SubFactory(DepartmentFactory)
    name = factory.Sequence(lambda n: f"服务{n}")
    category = "通用"
    form_schema = factory.LazyFunction(list)


def now():
    return timezone.now()
