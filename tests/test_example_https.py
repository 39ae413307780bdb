"""``python -m example_app --https``: the self-signed localhost certificate, and the demo over https."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import example_app.__main__ as demo_main
from example_app import create_app
from example_app.tls import (
    CERT_NAME,
    KEY_NAME,
    cache_dir,
    localhost_certificate,
    problem,
    write_certificate,
)
from flask_adobe_oauth.testing.live import free_port

from .test_example_app import read_until_open

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
POSIX = os.name != "nt"


def load(directory: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((directory / CERT_NAME).read_bytes())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- where the certificate is kept ---------------------------------------------------


def test_cache_dir_follows_xdg_then_home_and_localappdata_on_windows(tmp_path: Path) -> None:
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path)}, windows=False) == tmp_path / "flask-adobe-oauth"
    # XDG says to ignore a relative XDG_CACHE_HOME
    assert cache_dir({"XDG_CACHE_HOME": "rel"}, windows=False) == Path.home() / ".cache" / "flask-adobe-oauth"
    assert cache_dir({}, windows=False) == Path.home() / ".cache" / "flask-adobe-oauth"
    local = str(tmp_path / "AppData" / "Local")
    assert cache_dir({"LOCALAPPDATA": local}, windows=True) == Path(local) / "flask-adobe-oauth" / "cache"


# -- making, reusing and renewing it --------------------------------------------------


def test_a_new_certificate_for_localhost_with_a_private_key(tmp_path: Path) -> None:
    directory = tmp_path / "cache" / "flask-adobe-oauth"  # made, parents included
    made = localhost_certificate(directory, now=NOW)
    assert (made.cert, made.key) == (directory / CERT_NAME, directory / KEY_NAME)
    assert made.renewed_because == "none was there yet"
    if POSIX:
        assert mode(made.key) == 0o600
        assert mode(directory) == 0o700
    cert = load(directory)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ip_address("127.0.0.1"), ip_address("::1")]
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.subject == cert.issuer  # self-signed...
    cert.verify_directly_issued_by(cert)  # ...really: its own key signed it
    assert timedelta(days=364) < cert.not_valid_after_utc - NOW <= timedelta(days=366)
    assert cert.not_valid_before_utc <= NOW
    assert made.not_after == cert.not_valid_after_utc
    assert made.fingerprint == cert.fingerprint(hashes.SHA256()).hex(":").upper()
    key = serialization.load_pem_private_key(made.key.read_bytes(), password=None)
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)


def test_the_same_certificate_is_used_again(tmp_path: Path) -> None:
    first = localhost_certificate(tmp_path, now=NOW)
    key = (tmp_path / KEY_NAME).read_bytes()
    again = localhost_certificate(tmp_path, now=NOW + timedelta(days=300))
    assert again.renewed_because is None
    assert again.fingerprint == first.fingerprint
    assert (tmp_path / KEY_NAME).read_bytes() == key


@pytest.mark.parametrize(
    ("not_after", "because"),
    [
        (NOW - timedelta(days=1), "the old one expired"),
        (NOW, "the old one expired"),
        (NOW + timedelta(days=6, hours=23), "the old one expires within 7 days"),
    ],
)
def test_an_expired_or_expiring_certificate_is_replaced(
    tmp_path: Path, not_after: datetime, because: str
) -> None:
    write_certificate(tmp_path, not_before=NOW - timedelta(days=365), not_after=not_after)
    old = load(tmp_path).fingerprint(hashes.SHA256())
    made = localhost_certificate(tmp_path, now=NOW)
    assert made.renewed_because == because
    assert load(tmp_path).fingerprint(hashes.SHA256()) != old
    assert made.not_after > NOW + timedelta(days=364)
    assert problem(made.cert, made.key, now=NOW) is None


def test_a_certificate_with_more_than_a_week_left_is_kept(tmp_path: Path) -> None:
    write_certificate(tmp_path, not_before=NOW - timedelta(days=300), not_after=NOW + timedelta(days=8))
    old = load(tmp_path).fingerprint(hashes.SHA256())
    made = localhost_certificate(tmp_path, now=NOW)
    assert made.renewed_because is None
    assert load(tmp_path).fingerprint(hashes.SHA256()) == old


def test_a_certificate_from_the_future_is_replaced(tmp_path: Path) -> None:
    write_certificate(tmp_path, not_before=NOW + timedelta(days=1), not_after=NOW + timedelta(days=300))
    assert localhost_certificate(tmp_path, now=NOW).renewed_because == (
        "the old one is not valid yet (was the clock changed?)"
    )


@pytest.mark.parametrize("garbled", [CERT_NAME, KEY_NAME])
def test_garbage_or_a_missing_file_is_replaced(tmp_path: Path, garbled: str) -> None:
    localhost_certificate(tmp_path, now=NOW)
    (tmp_path / garbled).write_bytes(b"-----BEGIN garbage-----\nnot base64 at all\n")
    made = localhost_certificate(tmp_path, now=NOW)
    assert made.renewed_because == "the old files are not a PEM certificate and unencrypted key"
    assert problem(made.cert, made.key, now=NOW) is None
    (tmp_path / garbled).unlink()
    assert localhost_certificate(tmp_path, now=NOW).renewed_because == "none was there yet"


def test_a_key_that_is_not_the_certificates_is_replaced(tmp_path: Path) -> None:
    localhost_certificate(tmp_path, now=NOW)
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / KEY_NAME).write_bytes(other)
    made = localhost_certificate(tmp_path, now=NOW)
    assert made.renewed_because == "the old key does not belong to the old certificate"
    assert problem(made.cert, made.key, now=NOW) is None


def test_a_certificate_for_another_host_is_replaced(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=100))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("example.com")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / CERT_NAME).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / KEY_NAME).write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(tmp_path / KEY_NAME, 0o600)
    assert problem(tmp_path / CERT_NAME, tmp_path / KEY_NAME, now=NOW) == "the old one is not for localhost"
    made = localhost_certificate(tmp_path, now=NOW)
    assert made.renewed_because == "the old one is not for localhost"
    assert "localhost" in load(tmp_path).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)


def test_an_unreadable_certificate_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / CERT_NAME).mkdir()  # reading it fails even as root
    (tmp_path / KEY_NAME).write_bytes(b"")
    why = problem(tmp_path / CERT_NAME, tmp_path / KEY_NAME, now=NOW)
    assert why is not None and why.startswith("the old one could not be read (")


@pytest.mark.skipif(not POSIX, reason="file modes are POSIX")
def test_a_key_readable_by_others_is_replaced(tmp_path: Path) -> None:
    first = localhost_certificate(tmp_path, now=NOW)
    os.chmod(first.key, 0o644)
    made = localhost_certificate(tmp_path, now=NOW)
    assert made.renewed_because == "the old key could be read by other users"
    assert made.fingerprint != first.fingerprint
    assert mode(made.key) == 0o600


@pytest.mark.skipif(not POSIX, reason="file modes are POSIX")
@pytest.mark.parametrize("umask", [0, 0o277])
def test_the_key_file_is_private_from_the_moment_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int
) -> None:
    """Whatever the umask, the key file never has group or other bits, not even while it is
    still empty, and ends up exactly 0600."""
    real_open = os.open
    created: list[tuple[str, int, int, int]] = []

    def spying_open(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        fd = real_open(path, flags, mode, **kwargs)
        info = os.fstat(fd)
        created.append((os.fspath(path), flags, stat.S_IMODE(info.st_mode), info.st_size))
        return fd

    monkeypatch.setattr(os, "open", spying_open)
    old_umask = os.umask(umask)
    try:
        write_certificate(tmp_path, not_before=NOW, not_after=NOW + timedelta(days=30))
    finally:
        os.umask(old_umask)
    (key_file,) = [c for c in created if KEY_NAME in c[0]]
    path, flags, key_mode, size = key_file
    assert flags & os.O_CREAT and flags & os.O_EXCL  # a new file, never an existing one or a symlink's target
    assert size == 0 and key_mode & 0o077 == 0
    assert Path(path).parent == tmp_path and not Path(path).exists()  # moved into place afterwards
    assert mode(tmp_path / KEY_NAME) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([CERT_NAME, KEY_NAME])  # no leftovers


# -- what python -m example_app prints and serves --------------------------------------


def test_redirect_uri_pattern_escapes_dots() -> None:
    assert demo_main.redirect_uri_pattern("https://localhost:5000/adobe/callback") == (
        "https://localhost:5000/adobe/callback"
    )
    pattern = demo_main.redirect_uri_pattern("https://app.example.com/adobe/callback")
    assert pattern == r"https://app\.example\.com/adobe/callback"
    assert re.fullmatch(pattern, "https://app.example.com/adobe/callback")
    assert not re.fullmatch(pattern, "https://appXexample.com/adobe/callback")


def test_redirect_uri_is_the_one_the_app_sends() -> None:
    config = {"ADOBE_OAUTH_CLIENT_ID": "cid", "ADOBE_OAUTH_CLIENT_SECRET": "sec", "SECRET_KEY": "k" * 32}
    app = create_app(config)
    assert demo_main.redirect_uri(app, "https://localhost:5000") == "https://localhost:5000/adobe/callback"
    sent = app.test_client().get("/adobe/login", base_url="https://localhost:5000").headers["Location"]
    assert parse_qs(urlsplit(sent).query)["redirect_uri"] == ["https://localhost:5000/adobe/callback"]
    configured = create_app({**config, "ADOBE_OAUTH_REDIRECT_URI": "https://app.example.com/cb"})
    assert demo_main.redirect_uri(configured, "https://localhost:5000") == "https://app.example.com/cb"


def _real_adobe_env(monkeypatch: pytest.MonkeyPatch, cache: Path) -> list[tuple[Any, ...]]:
    """Environment for real Adobe (nothing is called), and run_simple replaced by a recorder."""
    for key in list(os.environ):
        if key.startswith("ADOBE_OAUTH_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ADOBE_OAUTH_CLIENT_ID", "cid")
    monkeypatch.setenv("ADOBE_OAUTH_CLIENT_SECRET", "sec")
    monkeypatch.setenv("SECRET_KEY", "k" * 32)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    served: list[tuple[Any, ...]] = []

    def run_simple(host: str, port: int, app: Any, **kwargs: Any) -> None:
        served.append((host, port, app, kwargs))

    monkeypatch.setattr(demo_main, "run_simple", run_simple)
    return served


@pytest.mark.skipif(not POSIX, reason="XDG_CACHE_HOME is not used on Windows")
def test_https_with_real_adobe_prints_what_to_register(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served = _real_adobe_env(monkeypatch, tmp_path)
    assert demo_main.main(["--https"]) == 0
    out = capsys.readouterr().out
    cert, key = tmp_path / "flask-adobe-oauth" / CERT_NAME, tmp_path / "flask-adobe-oauth" / KEY_NAME
    (host, port, app, kwargs) = served[0]
    assert (host, port, kwargs["ssl_context"]) == ("localhost", 5000, (str(cert), str(key)))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert "Default redirect URI to https://localhost:5000/adobe/callback and Redirect URI pattern" in out
    assert "HTTPS certificate (self-signed for localhost, new, because none was there yet" in out
    assert f"): {cert}\n" in out and "warns once" in out
    assert " * Open https://localhost:5000/ in your browser" in out
    # the next run reuses it
    assert demo_main.main(["--https", "--port", "5001"]) == 0
    out = capsys.readouterr().out
    assert "self-signed for localhost, reused;" in out
    assert "https://localhost:5001/adobe/callback" in out
    assert served[1][3]["ssl_context"] == (str(cert), str(key))


def test_without_https_real_adobe_is_told_to_use_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served = _real_adobe_env(monkeypatch, tmp_path)
    assert demo_main.main([]) == 0
    out = capsys.readouterr().out
    (host, port, _app, kwargs) = served[0]
    assert (host, port, kwargs["ssl_context"]) == ("127.0.0.1", 5000, None)
    assert "http://127.0.0.1:5000/adobe/callback, but Adobe takes only https" in out
    assert "--https" in out
    assert " * Open http://127.0.0.1:5000/ in your browser" in out
    assert not (tmp_path / "flask-adobe-oauth").exists()  # no certificate without --https


def test_python_m_example_app_https_signs_in_at_the_standin(tmp_path: Path) -> None:
    """The demo over https for real: a process with a new certificate, a browser that trusts only
    that certificate, a sign-in at the (http) stand-in and back to https://localhost."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADOBE_OAUTH_") and k != "SECRET_KEY"}
    env.update(XDG_CACHE_HOME=str(tmp_path), PYTHONUNBUFFERED="1")
    cert = tmp_path / "flask-adobe-oauth" / CERT_NAME
    demo = subprocess.Popen(
        [sys.executable, "-m", "example_app", "--https", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = ""
    try:
        said = read_until_open(demo)
        assert f" * Open https://localhost:{port}/ in your browser" in said, said
        assert "started a stand-in Adobe" in said and "on http://127.0.0.1:" in said
        assert f"): {cert}\n" in said and "warns once" in said
        if POSIX:
            assert mode(tmp_path / "flask-adobe-oauth" / KEY_NAME) == 0o600
        with requests.Session() as browser:
            browser.trust_env = False
            browser.verify = str(cert)  # trusts this certificate only
            landing = None
            for _ in range(100):  # the server may still be binding
                assert demo.poll() is None
                try:
                    landing = browser.get(f"https://localhost:{port}/", timeout=10)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            assert landing is not None and landing.status_code == 200
            assert "Sign in with Adobe" in landing.text
            login = browser.get(
                f"https://localhost:{port}/adobe/login",
                params={"next": "/dashboard"},
                allow_redirects=False,
                timeout=10,
            )
            assert login.status_code == 302
            authorize = login.headers["Location"]
            assert authorize.startswith("http://127.0.0.1:")  # the stand-in stays on http
            redirect_uri = parse_qs(urlsplit(authorize).query)["redirect_uri"]
            assert redirect_uri == [f"https://localhost:{port}/adobe/callback"]
            consent = browser.get(authorize, timeout=10)
            request_id = re.search(r'name="request" value="([^"]+)"', consent.text)
            assert request_id is not None, consent.text
            dashboard = browser.post(
                authorize.split("/ims/")[0] + "/ims/authorize/decision",
                data={"request": request_id.group(1), "decision": "allow"},
                timeout=10,
            )
            assert [r.url.split("?")[0] for r in dashboard.history][-1] == (
                f"https://localhost:{port}/adobe/callback"
            )
            assert dashboard.url == f"https://localhost:{port}/dashboard"
            assert dashboard.status_code == 200
            assert "Ada Analyst" in dashboard.text and 'id="chart"' in dashboard.text
            assert [c.secure for c in browser.cookies if c.name == "session"] == [True]
    finally:
        demo.terminate()
        try:
            output, _ = demo.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            demo.kill()
            output, _ = demo.communicate()
    assert '"GET /adobe/callback" 302' in output
