"""What the server stores, checked by implementations other than its own (SPEC 4, 7, docs/crypto.md).

The unit tests hash and seal with our code and then verify and open with our code; these read the
SQLite file of a real server and redo the work with independent code: the Argon2 reference library
(libargon2, Debian python3-argon2; first checked against RFC 9106's own test vector) recomputes the
stored password hashes and the vault's key-encryption key, and PyNaCl (Debian python3-nacl) opens
the wrapped data key, an entry and the list index chunks exactly as docs/crypto.md lays them out.
"""
import base64
import json
import sqlite3

import nacl.exceptions
import pytest
from argon2.low_level import Type, hash_secret_raw

from conftest import VAULT_PW, Client, Server, unlocked
from vault_format import aead_open, argon2id_raw, entry_ad, open_chunk, unwrap_data_key

ARGON2_MIN_KIB, ARGON2_MIN_PASSES = 19456, 2  # SPEC 4 and 11: the floor and the default


def test_the_reference_library_gives_rfc9106s_answer():
    """RFC 9106 section 5.3: what makes the library below a trustworthy oracle."""
    tag = argon2id_raw(b"\x01" * 32, b"\x02" * 16, t=3, m=32, p=4, secret=b"\x03" * 8, ad=b"\x04" * 12)
    assert tag.hex() == "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"


@pytest.fixture(scope="module")
def shared(request):
    """A server whose SQLite file this module reads while it runs (shared mode), default costs."""
    s = Server(backend="sqlite", env={"STRONGROOM_SQLITE_EXCLUSIVE": "false"}).start()
    yield s
    s.cleanup()


def query(s, sql, params=()):
    db = sqlite3.connect(s.data_dir + "/strongroom.db", timeout=10)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def b64_unpadded(text):
    return base64.b64decode(text + "=" * (-len(text) % 4))


def test_stored_password_hash_is_argon2id_at_the_contract_cost(shared):
    c = Client(shared)
    c.signup()
    (stored,) = query(shared, "SELECT password_hash FROM users WHERE id = ?", (c.user_id,))[0]
    stored = stored.decode() if isinstance(stored, bytes) else stored
    alg, version, params, salt, digest = stored.split("$")[1:]
    cost = dict(kv.split("=") for kv in params.split(","))
    assert alg == "argon2id" and version == "v=19", stored[:30]
    assert int(cost["m"]) >= ARGON2_MIN_KIB and int(cost["t"]) >= ARGON2_MIN_PASSES, params
    assert cost["p"] == "1"
    # The digest is Argon2id(password, salt) as the reference library computes it at that cost.
    want = hash_secret_raw(c.password.encode(), b64_unpadded(salt), time_cost=int(cost["t"]),
                           memory_cost=int(cost["m"]), parallelism=1, hash_len=len(b64_unpadded(digest)),
                           type=Type.ID, version=19)
    assert want == b64_unpadded(digest)


def data_key(s, uid, vault_password=VAULT_PW):
    salt, mem_kib, passes, wrapped = query(
        s, "SELECT kdf_salt, kdf_mem_kib, kdf_passes, wrapped_key FROM vault_keys WHERE user_id = ?", (uid,))[0]
    assert mem_kib >= ARGON2_MIN_KIB and passes >= ARGON2_MIN_PASSES  # SPEC 7/11: the vault KDF too
    return unwrap_data_key(uid, vault_password, bytes(salt), mem_kib, passes, bytes(wrapped))


def test_a_sealed_entry_opens_as_documented(shared):
    c = unlocked(shared)
    fields = {"domain": "bank.example", "account_name": "ada", "pin_or_password": "0451-pin",
              "url": "https://bank.example/", "notes": "two\nlines"}
    r = c.post("/vault/add", fields)
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    key = data_key(shared, c.user_id)
    (blob,) = query(shared, "SELECT ciphertext FROM vault WHERE id = ?", (eid,))[0]
    plain = aead_open(bytes(blob), entry_ad(c.user_id, eid), key)
    assert json.loads(plain) == fields
    # The binding is the documented one: another entry id or user id does not open it.
    for ad in (entry_ad(c.user_id, eid + 1), entry_ad(c.user_id + 1, eid)):
        with pytest.raises(nacl.exceptions.CryptoError):
            aead_open(bytes(blob), ad, key)
    # A wrong vault password derives a key that does not unwrap the data key.
    with pytest.raises(nacl.exceptions.CryptoError):
        data_key(shared, c.user_id, "not the vault password 1")


def test_the_list_index_opens_as_documented(shared):
    """The chunks hold exactly what the list shows, item for item and byte for byte, in id order."""
    c = unlocked(shared)
    for i in range(6):
        notes = "n" * 9000  # four of these fill a chunk (32 KiB): two chunks
        r = c.post("/vault/add", {"domain": f"d{i}.example", "account_name": "a", "pin_or_password": f"p{i}", "notes": notes})
        assert r.status_code == 201, r.text
    body = c.get("/vault/entries").content
    key = data_key(shared, c.user_id)
    rows = query(shared, "SELECT chunk, ciphertext FROM vault_index WHERE user_id = ? ORDER BY chunk", (c.user_id,))
    regions = [open_chunk(key, c.user_id, chunk, bytes(blob))[0] for chunk, blob in rows]
    assert len(regions) >= 2
    assert body == b'{"entries":[' + b",".join(regions) + b"]}"


def test_vault_password_policy(shared):
    """SPEC 7: the account policy applies to the vault password: not in the common list, not
    containing the username (setup and change-password alike)."""
    c = Client(shared)
    c.signup()
    c.signin()
    for bad in ["password1234", "xx" + c.username.upper() + "-vault-words"]:
        r = c.post("/vault/setup", {"vault_password": bad})
        assert r.status_code == 400 and "vault_password" in r.json()["fields"], (bad, r.text)
    assert c.post("/vault/setup", {"vault_password": VAULT_PW}).status_code == 201
    assert c.post("/vault/unlock-vault", {"vault_password": VAULT_PW}).status_code == 200
    for bad in ["password1234", "xx" + c.username + "-vault-words"]:
        r = c.post("/vault/change-password", {"current_vault_password": VAULT_PW, "new_vault_password": bad})
        assert r.status_code == 400 and "new_vault_password" in r.json()["fields"], (bad, r.text)
