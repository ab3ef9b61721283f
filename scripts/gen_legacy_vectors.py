#!/usr/bin/python3
"""Prints C++ test vectors for the legacy password hashes of the original app.

Run with Debian's /usr/bin/python3 (python3-werkzeug, python3-bcrypt):
    /usr/bin/python3 scripts/gen_legacy_vectors.py > tests/unit/auth/legacy_vectors.inc

Every vector is produced, and then re-checked, by the real libraries:
  - pbkdf2: werkzeug.security.generate_password_hash / check_password_hash (the installed
    version; Debian 12 ships Werkzeug 2.2.2, whose default iteration count is 260000);
  - scrypt: Werkzeug >= 2.3 when installed; otherwise Werkzeug 3's scrypt method reproduced
    below line for line (hashlib.scrypt with n, r, p, maxmem = 132*n*r*p, 64-byte key), since
    Werkzeug 2.2.2 predates it;
  - bcrypt: bcrypt.hashpw / bcrypt.checkpw ($2b$, $2a$; $2y$ is the 2b hash relabelled, which
    bcrypt.checkpw accepts).
Salts are random: each run prints different (equally valid) vectors.
"""
import hashlib
import hmac
import secrets
import sys

import bcrypt
import werkzeug
from werkzeug import security

PASSWORDS = [
    ("ascii", "correct horse battery staple"),
    ("unicode", "pässwörd-密码-пароль-🔑"),
    ("long100", "A1b2C3d4E5" * 10),
    ("symbols", "p@$$:w0rd$with$dollars"),
    ("short", "x"),
]


def werkzeug_scrypt(password, salt, n=2**15, r=8, p=1, explicit=True):
    """Werkzeug 3.0 security._hash_internal, method "scrypt[:n:r:p]"."""
    maxmem = 132 * n * r * p
    h = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=maxmem).hex()
    method = f"scrypt:{n}:{r}:{p}" if explicit else "scrypt"
    return f"{method}${salt}${h}"


def check_scrypt(stored, password):
    method, salt, h = stored.split("$", 2)
    args = method.split(":")[1:]
    n, r, p = map(int, args) if args else (2**15, 8, 1)
    mine = werkzeug_scrypt(password, salt, n, r, p).split("$", 2)[2]
    ok = hmac.compare_digest(mine, h)
    try:  # Werkzeug >= 2.3 knows scrypt: let the real library confirm too
        ok = ok and security.check_password_hash(stored, password)
    except ValueError:
        pass  # Werkzeug 2.2.2: "scrypt" is not a hashlib method
    return ok


def cxx(s):
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif 0x20 <= b < 0x7F and c != "?":
            out.append(c)
        else:
            out.append("\\%03o" % b)
    return '"' + "".join(out) + '"'


def main():
    vectors = []
    default_iterations = security.DEFAULT_PBKDF2_ITERATIONS
    for name, pw in PASSWORDS:
        # pbkdf2, explicit iteration count (the original app's format) and a cheap one.
        # (The expensive ones only for some passwords, to keep the unit tests quick.)
        expensive = name in ("ascii", "unicode", "long100")
        methods = ("pbkdf2:sha256:600000", "pbkdf2:sha256:1000") if expensive else (
            "pbkdf2:sha256:1000",)
        for method in methods:
            h = security.generate_password_hash(pw, method=method, salt_length=16)
            vectors.append((f"{name} {method}", pw, h))
        # pbkdf2 with the iteration count left out: Werkzeug's default applies.
        if expensive:
            h = security.generate_password_hash(pw, method="pbkdf2:sha256", salt_length=16)
            omitted = h.replace(f"pbkdf2:sha256:{default_iterations}$", "pbkdf2:sha256$", 1)
            assert omitted != h
            vectors.append((f"{name} pbkdf2:sha256 (default iterations)", pw, omitted))
        # scrypt, Werkzeug's default parameters, explicit and implicit.
        salt = security.gen_salt(16)
        vectors.append((f"{name} scrypt:32768:8:1", pw, werkzeug_scrypt(pw, salt)))
        # bcrypt 2b at a cheap cost, and 2a / 2y variants.
        b = bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4, prefix=b"2b")).decode()
        vectors.append((f"{name} bcrypt 2b", pw, b))
        a = bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=5, prefix=b"2a")).decode()
        vectors.append((f"{name} bcrypt 2a", pw, a))
        vectors.append((f"{name} bcrypt 2y", pw, "$2y$" + b[4:]))
    pw = PASSWORDS[0][1]
    vectors.append(("ascii scrypt (default params)", pw,
                    werkzeug_scrypt(pw, security.gen_salt(16), explicit=False)))
    vectors.append(("ascii scrypt:16384:8:2", pw,
                    werkzeug_scrypt(pw, security.gen_salt(12), 16384, 8, 2)))
    vectors.append(("ascii pbkdf2:sha512:2000", pw,
                    security.generate_password_hash(pw, "pbkdf2:sha512:2000")))
    vectors.append(("ascii pbkdf2:sha1:2000", pw,
                    security.generate_password_hash(pw, "pbkdf2:sha1:2000")))
    vectors.append(("ascii bcrypt 2b cost 12", pw,
                    bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=12)).decode()))

    # Re-check every vector with the real libraries before printing it.
    for name, pw, h in vectors:
        if h.startswith("$2"):
            ok = bcrypt.checkpw(pw.encode(), h.encode())
            bad = bcrypt.checkpw(b"wrong" + pw.encode(), h.encode())
        elif h.startswith("scrypt"):
            ok, bad = check_scrypt(h, pw), check_scrypt(h, "wrong" + pw)
        else:
            ok = security.check_password_hash(h, pw)
            bad = security.check_password_hash(h, "wrong" + pw)
        if not ok or bad:
            sys.exit(f"vector {name!r} does not verify")

    print("// Generated by scripts/gen_legacy_vectors.py with Werkzeug "
          f"{werkzeug.__version__} (default pbkdf2 iterations {default_iterations}) and "
          f"bcrypt {bcrypt.__version__}.")
    print("// {name, password (UTF-8), stored hash}. Do not edit; regenerate.")
    print("// clang-format off")
    for name, pw, h in vectors:
        print(f"{{{cxx(name)}, {cxx(pw)}, {cxx(h)}}},")
    print("// clang-format on")


if __name__ == "__main__":
    main()
