"""Configuration from the command line, round 2 (SPEC 11, 13-16): the key declarations behind --help,
`config-keys` and docs/configuration.md, the new keys, totp_key in the secrets file, and the new
`check --deploy` findings (non-random secrets, raised rate limits, public proxy ranges, TLS files)."""
import os
import re
import secrets
import shutil
import stat
import subprocess
import tempfile

import pytest

from conftest import BIN, ROOT, Server

DAY = 86400


def run(args, env=None, timeout=30):
    e = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    e.update(env or {})
    return subprocess.run([BIN, *args], env=e, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def tmpdir_700():
    d = tempfile.mkdtemp(prefix="sr-checks-")
    os.chmod(d, 0o700)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def production_env(d, **more):
    """A production configuration that `check --deploy` passes: keys from gen-secret."""
    env = {"STRONGROOM_PROFILE": "production", "STRONGROOM_DATA_DIR": d,
           "STRONGROOM_JWT_SECRET": run(["gen-secret"]).stdout.strip(),
           "STRONGROOM_VAULT_SESSION_KEY": run(["gen-secret"]).stdout.strip(),
           "STRONGROOM_TOTP_KEY": run(["gen-secret"]).stdout.strip(),
           "STRONGROOM_BEHIND_TLS_PROXY": "true", "STRONGROOM_TRUSTED_PROXIES": "10.0.0.5",
           "STRONGROOM_CORS_ORIGINS": "https://app.example.com"}
    env.update(more)
    return env


def findings(stdout):
    """[(severity, key, message)] of `check` output."""
    return re.findall(r"^\[(ERROR|WARNING|INFO)\] (\w+): (.*)$", stdout, re.M)


def keys_of_binary():
    r = run(["config-keys"])
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t", 1) for line in r.stdout.splitlines()]
    assert rows and all(len(x) == 2 for x in rows)
    return rows


# --- one declaration per key ------------------------------------------------------------------------

def test_docs_key_table_is_the_binarys_output():
    r = run(["config-keys", "--markdown"])
    assert r.returncode == 0, r.stderr
    doc = open(os.path.join(ROOT, "docs", "configuration.md")).read()
    m = re.search(r"<!-- config-keys:begin[^\n]*\n(.*?)<!-- config-keys:end -->", doc, re.S)
    assert m, "docs/configuration.md lacks the config-keys markers"
    assert m.group(1) == r.stdout, "docs/configuration.md is out of date: paste `strongroom config-keys --markdown`"


def test_serve_help_lists_every_key_with_its_help_text():
    out = run(["serve", "--help"]).stdout
    options, _, footer = out.partition("Secrets are read from the config file or the environment only")
    assert footer, out
    secret_names = re.findall(r"^  (\w+): ", footer, re.M)
    assert {"jwt_secret", "jwt_previous_secrets", "vault_session_key", "totp_key"} <= set(secret_names), footer
    flat = re.sub(r"\s+", " ", out)
    for name, help_line in keys_of_binary():
        assert re.sub(r"\s+", " ", help_line) in flat, (name, help_line)  # help, default and variable
        flag = "--" + name.replace("_", "-")
        if name in secret_names:
            assert flag not in out, name  # a command line is visible to other users
        else:
            assert re.search(r"^\s+" + re.escape(flag) + r" [A-Z]+", options, re.M), (name, options)
    assert run(["serve", "--jwt-secret", "x"]).returncode != 0


def test_every_key_has_a_flag_that_overrides_the_environment(tmpdir_700):
    r = run(["check", "--max-connections-per-ip", "0"], env={"STRONGROOM_DATA_DIR": tmpdir_700})
    assert r.returncode == 2 and "max_connections_per_ip: expected" in r.stderr, r.stderr
    r = run(["check", "--vault-max-bytes", "1024"], env={"STRONGROOM_DATA_DIR": tmpdir_700,
                                                         "STRONGROOM_VAULT_MAX_BYTES": "70000"})
    assert r.returncode == 2 and "vault_max_bytes" in r.stderr and "--vault_max_bytes" in r.stderr, r.stderr
    r = run(["check", "--backup-keep", "3"], env={"STRONGROOM_DATA_DIR": tmpdir_700, "STRONGROOM_BACKUP_KEEP": "x"})
    assert r.returncode == 0, r.stderr  # the flag wins over the bad environment value


def test_round_two_keys_are_validated(tmpdir_700):
    for var, bad in [("STRONGROOM_MAX_CONNECTIONS_PER_IP", "-5"), ("STRONGROOM_VAULT_MAX_BYTES", "16MiB"),
                     ("STRONGROOM_BACKUP_INTERVAL", "daily"), ("STRONGROOM_BACKUP_KEEP", "0"),
                     ("STRONGROOM_UI", "maybe"), ("STRONGROOM_LISTEN_REDIRECT", "80")]:
        r = run(["check"], env={"STRONGROOM_DATA_DIR": tmpdir_700, var: bad})
        key = var[len("STRONGROOM_"):].lower()
        assert r.returncode == 2 and key + ": expected" in r.stderr and var in r.stderr, (var, r.stderr)
    r = run(["check"], env={"STRONGROOM_DATA_DIR": tmpdir_700, "STRONGROOM_LISTEN_REDIRECT": "127.0.0.1:0"})
    assert r.returncode == 2 and "listen_redirect" in r.stderr and "tls_cert" in r.stderr, r.stderr


# --- totp_key -----------------------------------------------------------------------------------------

def test_totp_key_required_in_production(tmpdir_700):
    env = production_env(tmpdir_700, STRONGROOM_LISTEN="127.0.0.1:0")
    del env["STRONGROOM_TOTP_KEY"]
    r = run(["serve"], env=env, timeout=20)
    assert r.returncode == 2, r.stderr
    assert "totp_key" in r.stderr and "STRONGROOM_TOTP_KEY" in r.stderr
    assert env["STRONGROOM_JWT_SECRET"] not in r.stdout + r.stderr


def test_development_secrets_file_gets_totp_key_and_keeps_the_others():
    d = tempfile.mkdtemp(prefix="sr-totp-")
    try:
        data = os.path.join(d, "data")
        os.mkdir(data, 0o700)
        jwt, vault = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        path = os.path.join(data, "secrets")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, f"# written before totp_key existed\njwt_secret={jwt}\nvault_session_key={vault}\n".encode())
        os.close(fd)
        s = Server(backend="sqlite", data_dir=data, profile="development")
        s.own_dir = False
        s.start()
        try:
            text = open(path).read()
            assert f"jwt_secret={jwt}\n" in text and f"vault_session_key={vault}\n" in text
            m = re.search(r"^totp_key=([A-Za-z0-9_-]{43})$", text, re.M)
            assert m, text
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        finally:
            s.stop()
        s.start()  # a restart keeps it
        s.stop()
        assert open(path).read() == text
        s.cleanup()
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- check --deploy findings (SPEC 14) ----------------------------------------------------------------

def test_gen_secret_keys_pass_and_a_good_production_config_has_no_findings(tmpdir_700):
    for _ in range(3):
        r = run(["check", "--deploy"], env=production_env(tmpdir_700))
        assert r.returncode == 0, r.stdout
        assert findings(r.stdout) == [], r.stdout


@pytest.mark.parametrize("phrase", [
    "this-is-a-very-secret-phrase-for-the-jwt-signing-key",  # decodes as base64url to 39 bytes
    "CorrectHorseBatteryStapleIsMyFavoriteSecretKeyOk",
    "my production signing key, typed by hand and long enough",  # raw text
])
def test_english_phrase_as_secret_is_an_error(tmpdir_700, phrase):
    env = production_env(tmpdir_700, STRONGROOM_JWT_SECRET=phrase)
    r = run(["check", "--deploy"], env=env)
    assert r.returncode == 1, r.stdout
    assert ("ERROR", "jwt_secret") in [(s, k) for s, k, _ in findings(r.stdout)], r.stdout
    assert phrase not in r.stdout + r.stderr
    # The production profile refuses to start with it.
    env["STRONGROOM_LISTEN"] = "127.0.0.1:0"
    r = run(["serve"], env=env, timeout=20)
    assert r.returncode == 2 and "jwt_secret" in r.stderr, r.stderr
    assert phrase not in r.stdout + r.stderr


def test_raised_rate_limits_are_a_warning(tmpdir_700):
    r = run(["check", "--deploy"], env=production_env(tmpdir_700, STRONGROOM_RATE_LIMITS="signin=100000/1,signup=1/3600"))
    assert r.returncode == 0, r.stdout  # a warning, not an error
    f = findings(r.stdout)
    assert [k for s, k, _ in f if s == "WARNING"] == ["rate_limits"], r.stdout
    assert "signin" in f[0][2] and "signup" not in f[0][2]


def test_trusted_proxies_covering_public_space_are_a_warning(tmpdir_700):
    r = run(["check", "--deploy"], env=production_env(tmpdir_700, STRONGROOM_TRUSTED_PROXIES="10.0.0.5,128.0.0.0/1"))
    assert r.returncode == 0, r.stdout
    f = findings(r.stdout)
    assert [(s, k) for s, k, _ in f] == [("WARNING", "trusted_proxies")], r.stdout
    assert "128.0.0.0/1" in f[0][2]
    r = run(["check", "--deploy"], env=production_env(tmpdir_700, STRONGROOM_TRUSTED_PROXIES="10.0.0.0/8,fd00::/8,203.0.113.7"))
    assert findings(r.stdout) == [], r.stdout


# --- TLS files (SPEC 15) -------------------------------------------------------------------------------

def make_pair(d, name, days_from, days_to, key_mode=0o600):
    """A self-signed certificate (valid from now+days_from to now+days_to) and its key, made with the
    cryptography package (independent of the server's OpenSSL calls)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days_from))
            .not_valid_after(now + datetime.timedelta(days=days_to)).sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, key_mode)
    os.write(fd, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    os.close(fd)
    os.chmod(key_path, key_mode)
    return cert_path, key_path


def tls_env(d, cert, key, **more):
    return production_env(d, STRONGROOM_TLS_CERT=cert, STRONGROOM_TLS_KEY=key, STRONGROOM_BEHIND_TLS_PROXY="false",
                          STRONGROOM_TRUSTED_PROXIES="", **more)


def test_tls_certificate_findings(tmpdir_700):
    ok_cert, ok_key = make_pair(tmpdir_700, "ok", -1, 90)
    r = run(["check", "--deploy"], env=tls_env(tmpdir_700, ok_cert, ok_key))
    assert r.returncode == 0 and findings(r.stdout) == [], r.stdout

    cert, key = make_pair(tmpdir_700, "soon", -80, 5)
    r = run(["check", "--deploy"], env=tls_env(tmpdir_700, cert, key))
    assert r.returncode == 0 and [(s, k) for s, k, _ in findings(r.stdout)] == [("WARNING", "tls_cert")], r.stdout

    cert, key = make_pair(tmpdir_700, "old", -90, -1)
    r = run(["check", "--deploy"], env=tls_env(tmpdir_700, cert, key))
    assert r.returncode == 1 and ("ERROR", "tls_cert") in [(s, k) for s, k, _ in findings(r.stdout)], r.stdout
    assert "expired" in r.stdout

    other_cert, _ = make_pair(tmpdir_700, "other", -1, 90)
    r = run(["check", "--deploy"], env=tls_env(tmpdir_700, other_cert, ok_key))
    assert r.returncode == 1 and ("ERROR", "tls_key") in [(s, k) for s, k, _ in findings(r.stdout)], r.stdout

    junk = os.path.join(tmpdir_700, "junk.pem")
    open(junk, "w").write("not a certificate\n")
    r = run(["check", "--deploy"], env=tls_env(tmpdir_700, junk, ok_key))
    assert r.returncode == 1 and ("ERROR", "tls_cert") in [(s, k) for s, k, _ in findings(r.stdout)], r.stdout


def test_production_refuses_a_tls_key_readable_by_others(tmpdir_700):
    cert, key = make_pair(tmpdir_700, "shared", -1, 90, key_mode=0o640)
    env = tls_env(tmpdir_700, cert, key, STRONGROOM_LISTEN="127.0.0.1:0")
    r = run(["serve"], env=env, timeout=20)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "tls_key" in r.stderr and "group or others" in r.stderr, r.stderr
    os.chmod(key, 0o600)
    r = run(["check", "--deploy"], env=env)
    assert r.returncode == 0, r.stdout
