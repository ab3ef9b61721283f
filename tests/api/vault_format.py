"""docs/crypto.md's vault formats, implemented apart from the server: the Argon2 reference library
(Debian python3-argon2) for the key-encryption key, PyNaCl (Debian python3-nacl) for
XChaCha20-Poly1305. Tests use it to open what the server stored."""
import json
import struct

import nacl.bindings
from argon2.low_level import Type, core, ffi, lib

INDEX_CONTEXT = b"strongroom-vault-index"


def argon2id_raw(pwd, salt, t, m, p=1, secret=b"", ad=b"", n=32):
    """Argon2id (version 0x13) by the reference library, with its optional secret and data."""
    out = ffi.new("uint8_t[]", n)
    bufs = [ffi.from_buffer(x) for x in (pwd, salt, secret, ad)]
    ctx = ffi.new("argon2_context *", dict(
        version=19, out=out, outlen=n, pwd=bufs[0], pwdlen=len(pwd), salt=bufs[1], saltlen=len(salt),
        secret=bufs[2], secretlen=len(secret), ad=bufs[3], adlen=len(ad), t_cost=t, m_cost=m, lanes=p,
        threads=p, allocate_cbk=ffi.NULL, free_cbk=ffi.NULL, flags=lib.ARGON2_DEFAULT_FLAGS))
    assert core(ctx, Type.ID.value) == lib.ARGON2_OK
    return bytes(ffi.buffer(out, n))


def aead_open(blob, ad, key):
    """version 0x01 || nonce(24) || XChaCha20-Poly1305(ciphertext || tag). Raises CryptoError."""
    assert blob[0] == 1, blob[:1]
    return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(blob[25:], ad, blob[1:25], key)


def unwrap_data_key(uid, vault_password, salt, mem_kib, passes, wrapped):
    """KEK = Argon2id(vault password, salt, passes, mem_kib); AD = 0x01 || user_id(8)."""
    assert len(salt) == 16 and len(wrapped) == 1 + 24 + 32 + 16
    kek = argon2id_raw(vault_password.encode(), salt, t=passes, m=mem_kib)
    key = aead_open(wrapped, b"\x01" + struct.pack(">q", uid), kek)
    assert len(key) == 32
    return key


def entry_ad(uid, eid):
    return b"\x01" + struct.pack(">qq", uid, eid)


def open_chunk(key, uid, chunk, blob):
    """A list index chunk: region || (entry_id(8) length(4))* || count(4), the region being the
    items' JSON joined by ','. Returns the region and [(entry id, item JSON bytes)]."""
    plain = aead_open(blob, INDEX_CONTEXT + b"\x01" + struct.pack(">qq", uid, chunk), key)
    (count,) = struct.unpack(">I", plain[-4:])
    table = plain[-4 - 12 * count:-4]
    region = plain[:-4 - 12 * count]
    items, pos = [], 0
    for i in range(count):
        eid, n = struct.unpack(">qI", table[12 * i:12 * i + 12])
        items.append((eid, region[pos:pos + n]))
        pos += n + 1
    assert pos - 1 == len(region), "the lengths do not add up to the region"
    assert region == b",".join(item for _, item in items)
    for eid, item in items:
        assert json.loads(item)["id"] == eid
    return region, items
