"""Hostile uploads, through the API and through the ticket page's reply form: too big, a
disguised type, or a name that tries to leave the media folder. Each is refused with a 400
naming the field, and nothing is written anywhere (inside MEDIA_ROOT or outside it)."""

import io
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import Company
from tickets import services
from tickets.models import Attachment, Ticket
from tickets.uploads import UploadRejected, check_upload

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 240
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120

DISGUISED = [
    pytest.param("invoice.png", EXE, id="exe-named-png"),
    pytest.param("invoice.pdf", EXE, id="exe-named-pdf"),
    pytest.param("page.png", HTML, id="html-named-png"),
    pytest.param("page.pdf", HTML, id="html-named-pdf"),
    pytest.param("page.html", HTML, id="html"),
    pytest.param("image.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>', id="svg"),
    pytest.param("tool.jpg", ELF, id="elf-named-jpg"),
    pytest.param("setup.exe", EXE, id="exe"),
]
# Names as they reach the server in the multipart header (escaped for the header below).
HOSTILE_NAMES = [
    pytest.param("../../etc/passwd", PNG, id="dotdot-etc-passwd"),
    pytest.param("a" * 300 + ".png", PNG, id="very-long-name"),
    pytest.param("b" * 250 + ".txt", b"plain words", id="very-long-text-name"),
]


@pytest.fixture
def ticket(company: Company) -> Ticket:
    return services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="Laptop",
        description="",
        form_data={"model": "14寸"},
    )


def files_under(root: Path) -> set[Path]:
    return {Path(d) / f for d, _dirs, names in os.walk(root) for f in names}


@pytest.fixture
def nothing_written(tmp_path: Path) -> Callable[[], None]:
    """After the attempts: no attachment row, and no file anywhere under the test's folder
    (MEDIA_ROOT is tmp_path/media) nor at the paths the names aimed at."""
    before = files_under(tmp_path)

    def check() -> None:
        assert Attachment.objects.count() == 0
        assert files_under(tmp_path) == before
        assert not (Path(settings.MEDIA_ROOT).parent / "etc").exists()
        assert not Path("/etc/x.png").exists()

    return check


def multipart(field: str, filename: str, content: bytes, extra: dict[str, str]) -> bytes:
    boundary = "abuse-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in extra.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '.encode()
        + b'filename="'
        + filename.encode()
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def api_upload(client: Client, ticket: Ticket, name: str, content: bytes) -> object:
    return client.generic(
        "POST",
        f"/api/v1/tickets/{ticket.pk}/attachments/",
        multipart("file", name, content, {}),
        content_type="multipart/form-data; boundary=abuse-boundary",
        headers={"accept-language": "en"},
    )


def page_upload(client: Client, ticket: Ticket, name: str, content: bytes) -> object:
    return client.generic(
        "POST",
        f"/tickets/{ticket.reference}/reply/",
        multipart("attachment", name, content, {"body": "see the file"}),
        content_type="multipart/form-data; boundary=abuse-boundary",
        headers={"accept-language": "en"},
    )


def assert_api_refused(response: object) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == ["file"]


def assert_page_refused(response: object) -> None:
    """400, the ticket page again, with the error shown at the attachment field."""
    assert response.status_code == 400, response.content[:500]
    errors = re.search(r'id="id_attachment_errors">(.*?)</ul>', response.content.decode(), re.S)
    assert errors, "no error at the attachment field"
    assert re.sub(r"<[^>]+>", "", errors.group(1)).strip()


@pytest.fixture
def signed_in(company: Company) -> Client:
    client = Client()
    client.force_login(company.requester)
    return client


def test_an_upload_over_the_limit_is_refused_by_api_and_page(
    company, ticket, signed_in, settings, nothing_written
):
    settings.ATTACHMENT_MAX_BYTES = 4096
    big = b"x" * 4097
    assert_api_refused(api_upload(signed_in, ticket, "big.txt", big))
    assert_page_refused(page_upload(signed_in, ticket, "big.txt", big))
    nothing_written()


def test_a_large_upload_beyond_the_in_memory_size_is_refused_too(
    company, ticket, signed_in, settings, nothing_written
):
    # Bigger than FILE_UPLOAD_MAX_MEMORY_SIZE: Django spools it to a temporary file first.
    settings.ATTACHMENT_MAX_BYTES = 1024 * 1024
    big = b"y" * (settings.FILE_UPLOAD_MAX_MEMORY_SIZE + 1024)
    assert_api_refused(api_upload(signed_in, ticket, "big.txt", big))
    nothing_written()


@pytest.mark.parametrize(("name", "content"), DISGUISED)
def test_a_disguised_file_is_refused_by_api_and_page(
    company, ticket, signed_in, nothing_written, name, content
):
    assert_api_refused(api_upload(signed_in, ticket, name, content))
    assert_page_refused(page_upload(signed_in, ticket, name, content))
    nothing_written()


@pytest.mark.parametrize(("name", "content"), HOSTILE_NAMES)
def test_a_hostile_file_name_is_refused_by_api_and_page(
    company, ticket, signed_in, nothing_written, name, content
):
    assert_api_refused(api_upload(signed_in, ticket, name, content))
    assert_page_refused(page_upload(signed_in, ticket, name, content))
    nothing_written()


@pytest.mark.parametrize(
    "name",
    ["..\\x.png", "/etc/x.png", "C:\\Windows\\x.png", "evil\x00.png", "sub/dir/x.png"],
)
def test_a_path_in_the_name_never_places_the_file_outside_media_root(
    company, ticket, signed_in, tmp_path, name
):
    """Django's multipart parser keeps only the base name and drops unprintable characters
    before the app sees the upload, so these arrive as a plain name: either refused, or
    stored under a random name inside MEDIA_ROOT and shown without any path."""
    response = api_upload(signed_in, ticket, name, PNG)
    media_root = Path(settings.MEDIA_ROOT).resolve()
    outside = files_under(tmp_path) - files_under(media_root)
    assert outside == set()
    if response.status_code == 400:
        assert list(response.json()["fields"]) == ["file"]
        return
    assert response.status_code == 201, response.content
    shown = response.json()["filename"]
    assert "/" not in shown and "\\" not in shown and "\x00" not in shown and ".." not in shown
    stored = Path(Attachment.objects.get().file.path).resolve()
    assert stored.is_relative_to(media_root)
    assert shown not in stored.name  # stored under a random token, not the given name


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.txt",
        "..\\x.png",
        "/etc/x.png",
        "C:\\x.png",
        "evil\x00.png",
        "tab\tname.png",
        "x" * 201 + ".png",
    ],
)
def test_the_service_refuses_a_raw_name_with_a_path_control_characters_or_too_long(name):
    """Below HTTP (imports, e-mail intake) the raw name reaches the check: it is refused."""
    with pytest.raises(UploadRejected):
        check_upload(name, io.BytesIO(PNG), len(PNG), 10_000)


def test_an_outsider_cannot_upload_to_a_ticket_they_cannot_see(company, ticket, nothing_written):
    client = Client()
    client.force_login(company.finance_agent)
    assert api_upload(client, ticket, "notes.txt", b"hello").status_code == 404
    assert page_upload(client, ticket, "notes.txt", b"hello").status_code == 404
    nothing_written()
