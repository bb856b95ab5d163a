"""Token sign-in for other systems: POST username and password, get a token back."""

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from servicedesk.errors import DomainError
from servicedesk.throttling import AuthRateThrottle


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    http_status = status.HTTP_400_BAD_REQUEST


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class ObtainTokenView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthRateThrottle]

    @extend_schema(
        request=TokenRequestSerializer, responses={200: TokenResponseSerializer}, auth=[]
    )
    def post(self, request: Request) -> Response:
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None or not user.is_active:
            raise InvalidCredentials(_("Unable to sign in with those credentials."))
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
