#!/usr/bin/env python3
"""Writes the seed corpus of every harness into fuzz/corpus/<target>/ (deterministic apart from
nonces/salts). Run from anywhere: python3 fuzz/make_seeds.py. Keys are the harnesses' fixed
test keys (32 x 'K' for JWT, 32 x 'S' for vault sessions, 32 x 'D' for the vault data key)."""
import base64, ctypes, ctypes.util, hashlib, hmac, json, os, shutil, struct, warnings

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
sodium = ctypes.CDLL(ctypes.util.find_library("sodium"))
assert sodium.sodium_init() >= 0


def w(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def fdp(s):
    """A string as FuzzedDataProvider::ConsumeRandomLengthString reads it."""
    if isinstance(s, str):
        s = s.encode()
    return s.replace(b"\\", b"\\\\") + b"\\|"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def be64(v):
    return struct.pack(">q", v)


for t in os.listdir(ROOT) if os.path.isdir(ROOT) else []:
    shutil.rmtree(os.path.join(ROOT, t))

# ---- json_request: byte 0 = mode (0 signup, 1 vault entry, 2 personal, 3 escape, 4 writer, 5 all)
T = "json_request"
w(T, "signup_ok", b"\x00" + b'{"username":"alice_01","email":"alice@example.com","password":"correct horse battery"}')
w(T, "signup_unknown_field", b"\x00" + b'{"username":"alice","email":"a@b.co","password":"x","is_admin":true}')
w(T, "signup_dup_key", b"\x00" + b'{"username":"alice","username":"bob","email":"a@b.co","password":"x"}')
w(T, "signup_escapes", b"\x00" + '{"username":"al\\u0069ce","email":"a@b.co","password":"p\\u00e9ss\\ud83d\\ude00 \\"q\\" \\\\"}'.encode())
w(T, "entry_ok", b"\x01" + '{"domain":"example.com","account_name":"me","pin_or_password":"s3cr\u00e9t","url":"https://example.com/login?x=1#f","notes":"line1\\nline2\\r\\n\\ttab"}'.encode())
w(T, "entry_nulls", b"\x01" + b'{"domain":"d","account_name":"a","pin_or_password":"p","url":null,"notes":null}')
w(T, "entry_bad", b"\x01" + b'{"domain":"d","account_name":"a","pin_or_password":"p","url":"javascript:alert(1)","notes":"\\u0000"}')
w(T, "personal_ok", b"\x02" + b'{"full_name":"Ada L","age":36,"phone":"+44 (0) 20-7946","address":null,"bio":"hi\\nthere","big":-9223372036854775808,"return_tokens":true}')
w(T, "personal_types", b"\x02" + b'{"age":1.0,"big":9223372036854775808,"return_tokens":"yes","bio":[1,{"a":{"b":[]}}]}')
w(T, "deep", b"\x05" + b'{"a":' + b"[" * 40 + b"]" * 40 + b"}")
w(T, "escape_mixed", b"\x03" + 'plain "q" \\ \x01\x1f\x7f \u2028\u2029 é 😀'.encode() + b"\xff\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80")
w(T, "writer", b"\x04" + fdp("key") + fdp('value with "quote" \u2028') + bytes(range(0, 40)))

# ---- jwt: 0 = token, 1 = header\npayload (re-signed by the harness), 2 = claims round trip
T = "jwt"
KEY, PREV = b"K" * 32, b"P" * 32
NOW = 1_750_000_000


def jwt(payload, key=KEY, header=b'{"alg":"HS256","typ":"JWT"}'):
    si = b64u(header) + b"." + b64u(payload)
    return si + b"." + b64u(hmac.new(key, si, hashlib.sha256).digest())


claims = {"sub": "42", "sid": "c2Vzc2lvbg", "jti": "AAAAAAAAAAAAAAAAAAAAAA", "type": "access",
          "csrf": "Y3NyZg", "iss": "strongroom", "aud": "strongroom", "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 900}
p = json.dumps(claims, separators=(",", ":")).encode()
w(T, "access_ok", b"\x00" + jwt(p))
w(T, "access_prev_key", b"\x00" + jwt(p, PREV))
w(T, "refresh_ok", b"\x00" + jwt(json.dumps(dict(claims, type="refresh")).encode()))
w(T, "alg_none", b"\x00" + b64u(b'{"alg":"none"}') + b"." + b64u(p) + b".")
w(T, "expired", b"\x00" + jwt(json.dumps(dict(claims, exp=NOW - 100)).encode()))
w(T, "resign_ok", b"\x01" + b'{"alg":"HS256","typ":"JWT"}\n' + p)
w(T, "resign_aud_array", b"\x01" + b'{"typ":"JWT","alg":"HS256"}\n' + json.dumps(dict(claims, aud=["x", "strongroom"])).encode())
w(T, "resign_escapes", b"\x01" + b'{"alg":"HS\\u0032\\u0035\\u0036"}\n' + b'{"sub":"\\ud83d\\ude00","sid":"s","jti":"j","type":"access","csrf":"c","iss":"strongroom","aud":"strongroom","iat":1e3,"nbf":-0,"exp":99999999999999999999}')
w(T, "resign_kid", b"\x01" + b'{"alg":"HS256","kid":"../../etc/passwd"}\n{}')
w(T, "roundtrip", b"\x02" + fdp("42") + fdp("sid-1") + fdp("jti-1") + fdp("csrf\"\\\x01") + b"\x01\x00\x10\x00\x01\x00\x00\x00\x00\x05\x07")

# ---- cookie_header: 0 = cookies (name, header...), 1 = cidr text, 2 = trusted entries, peer, xff
T = "cookie_header"
w(T, "cookies_plain", b"\x00" + fdp("access_token_cookie") + b"a=1; access_token_cookie=eyJhbGciOi.x.y; csrf_access_token=\"abc\"; vault_session=tok")
w(T, "cookies_secure", b"\x00" + fdp("x") + b"  __Host-access_token_cookie = v1 ;x;=;;a==b; __Secure-vault_session=\t\"q\"\t")
w(T, "cidr_v4", b"\x0110.0.0.0/8")
w(T, "cidr_mapped", b"\x01 ::ffff:192.0.2.1/128 ")
w(T, "cidr_scope", b"\x01fe80::1%eth0/64")
w(T, "cidr_odd", b"\x01192.168.001.1/033")
w(T, "xff_trusted", b"\x02\x01" + fdp("127.0.0.1") + fdp("10.1.2.3") + b"203.0.113.9, 10.0.0.2 , 127.0.0.1")
w(T, "xff_v6", b"\x02\x02" + fdp("2001:db8::/32") + fdp("198.51.100.0/24") + fdp("::1") + b"garbage, 2001:db8::7,198.51.100.3")
w(T, "xff_untrusted", b"\x02\x00" + fdp("203.0.113.5") + b"1.2.3.4")

# ---- url: 0 url, 1 email, 2 username, 3 phone, 4 platform, 5 all
T = "url"
for i, u in enumerate(["https://example.com/login?next=%2F#top", "http://[::1]:8080/a", "HTTPS://Example.COM:443",
                       "http://user:pw@example.com/", "javascript:alert(1)", "https://example.com\\@evil.com/",
                       "http:///nohost", "https://exa mple.com", "ftp://example.com/f", "https://xn--bcher-kva.example/%E2%82%AC",
                       "http://%65vil.com@good.com", "https://[v1.x]/"]):
    w(T, f"url{i}", b"\x00" + u.encode())
for i, e in enumerate(["alice@example.com", "a@b", "a@@b.co", "\"a\"@b.co", "a@.b.co", "a@b..co", "ALICE@Example.COM"]):
    w(T, f"email{i}", b"\x01" + e.encode())
w(T, "user_ok", b"\x02alice_01-x")
w(T, "user_bad", "\x02al ice\u00e9".encode())
w(T, "phone_ok", b"\x03+44 (0) 20-7946 0000")
w(T, "phone_nul", b"\x03123\x00")
w(T, "platform", b"\x04GitHub.com_x-y")
w(T, "all", b"\x05https://a.b/c@d")

# ---- vault_token: 0 open_session, 1 session round trip, 2 open_entry, 3 entry round trip, 4 unwrap,
#      5 parse_index_chunk, 6 index chunk round trip
T = "vault_token"
SKEY, DKEY = b"S" * 32, b"D" * 32


def xchacha(key, plain, ad, version=1):
    nonce = os.urandom(24)
    out = ctypes.create_string_buffer(len(plain) + 16)
    clen = ctypes.c_ulonglong()
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out, ctypes.byref(clen), plain, ctypes.c_ulonglong(len(plain)),
                                                      ad, ctypes.c_ulonglong(len(ad)), None, nonce, key)
    return bytes([version]) + nonce + out.raw[: clen.value]


def session(uid, sid, exp):
    plain = b"".join(be64(v) for v in (uid, NOW, NOW, exp, 1, 0)) + DKEY + struct.pack(">H", len(sid)) + sid
    return b64u(xchacha(SKEY, plain, b"strongroom-vault-session-v1\x01"))


w(T, "session_ok", b"\x00" + session(42, b"c2Vzc2lvbg", NOW + 300))
w(T, "session_long_sid", b"\x00" + session(7, b"s" * 256, NOW + 300))
w(T, "session_bad_len", b"\x00" + b64u(xchacha(SKEY, b"\x00" * 82 + b"\xff", b"strongroom-vault-session-v1\x01")))
w(T, "session_roundtrip", b"\x01" + b"\x2a" * 8 + fdp("sid") + b"\x01" * 48 + b"\x05\x03")
w(T, "entry_ok", b"\x02" + xchacha(DKEY, b"hunter2 pin", b"\x01" + be64(42) + be64(7)))
w(T, "entry_empty", b"\x02" + xchacha(DKEY, b"", b"\x01" + be64(42) + be64(7)))
w(T, "entry_roundtrip", b"\x03" + b"\x00" * 7 + b"\x2a" + b"\x00" * 7 + b"\x07" + b"\x11" * 8 + b"\x02secret value")
w(T, "unwrap_password", b"\x04\x00" + fdp("vault password for fuzzing"))
w(T, "unwrap_flip", b"\x04\x01" + b"\x00" * 8 + b"\x03\x01")
w(T, "unwrap_blob", b"\x04\x02" + fdp(bytes([1]) + b"n" * 24 + b"c" * 48) + fdp(b"s" * 16))
w(T, "unwrap_cost", b"\x04\x03" + be64(8)[::-1] + be64(1)[::-1])


def index_chunk(items):  # src/vault/index.hpp: region || (id(8) length(4))* || count(4)
    region = b",".join(j for _, j in items)
    return region + b"".join(be64(i) + struct.pack(">I", len(j)) for i, j in items) + struct.pack(">I", len(items))


w(T, "chunk_ok", b"\x05" + index_chunk([(3, b'{"id":3,"domain":"a"}'), (9, b'{"id":9,"notes":"x,y"}')]))
w(T, "chunk_empty", b"\x05" + index_chunk([]))
w(T, "chunk_roundtrip", b"\x06" + index_chunk([(1, b'{"id":1}')]) + b"\x11" * 8 + b"\x02" + b"\x00" * 7 + b"\x2a" * 8)

# ---- legacy_hash: password (FDP string), stored string
T = "legacy_hash"
PW = "correct horse battery staple"
salt = "NaCl2024"
w(T, "pbkdf2_sha256", fdp(PW) + f"pbkdf2:sha256:1000${salt}${hashlib.pbkdf2_hmac('sha256', PW.encode(), salt.encode(), 1000).hex()}".encode())
w(T, "pbkdf2_sha1", fdp(PW) + f"pbkdf2:sha1:10${salt}${hashlib.pbkdf2_hmac('sha1', PW.encode(), salt.encode(), 10).hex()}".encode())
w(T, "pbkdf2_default", fdp(PW) + b"pbkdf2:sha256$" + salt.encode() + b"$" + b"0" * 64)
w(T, "scrypt_small", fdp(PW) + f"scrypt:1024:1:1${salt}${hashlib.scrypt(PW.encode(), salt=salt.encode(), n=1024, r=1, p=1, maxmem=132*1024*2, dklen=64).hex()}".encode())
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import crypt
    w(T, "bcrypt_4", fdp(PW) + crypt.crypt(PW, "$2b$04$abcdefghijklmnopqrstuu").encode())
    w(T, "bcrypt_2y", fdp(PW) + crypt.crypt(PW, "$2b$05$zyxwvutsrqponmlkjihgfe").replace("$2b$", "$2y$").encode())
out = ctypes.create_string_buffer(128)
sodium.crypto_pwhash_str_alg(out, PW.encode(), ctypes.c_ulonglong(len(PW)), ctypes.c_ulonglong(1), ctypes.c_size_t(8192), 2)
w(T, "argon2id_tiny", fdp(PW) + out.value)
sodium.crypto_pwhash_str_alg(out, PW.encode(), ctypes.c_ulonglong(len(PW)), ctypes.c_ulonglong(3), ctypes.c_size_t(8192), 1)
w(T, "argon2i_tiny", fdp(PW) + out.value)
w(T, "argon2_huge", fdp(PW) + b"$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdHNhbHQ$AAAA")
w(T, "garbage", fdp("") + b"$2b$99$" + b"x" * 53)

# ---- base64_utf8: raw bytes
T = "base64_utf8"
w(T, "b64url", b64u(b"\xfb\xff\x00hello"))
w(T, "b64std", base64.b64encode(b"\xfb\xff\x00hello!"))
w(T, "hex", b"DEADbeef00")
w(T, "utf8_mixed", "aé€😀\u2028".encode())
w(T, "utf8_bad", b"\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80\xe0\x9f\xbf\xf0\x8f\xbf\xbf\xc2")
w(T, "noncanonical", b"QR")
w(T, "controls", bytes(range(0, 33)) + b"\x7f")

# ---- http_request: raw bytes of one connection (pipelined requests allowed)
T = "http_request"
signup = b'{"username":"alice","email":"alice@example.com","password":"correct horse battery"}'
w(T, "signup", b"POST /auth/signup HTTP/1.1\r\nHost: api\r\nContent-Type: application/json; charset=utf-8\r\nX-Request-ID: req-1\r\nContent-Length: %d\r\n\r\n" % len(signup) + signup)
w(T, "signin_cookies_xff", b"POST /auth/signin?x=1 HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nCookie: a=1; access_token_cookie=tok\r\nX-Forwarded-For: 198.51.100.1, 10.0.0.9\r\nX-CSRF-TOKEN: abc\r\nOrigin: https://app.example\r\nTransfer-Encoding: chunked\r\n\r\n1f\r\n{\"username\":\"a\",\"password\":\"p\"}\r\n0\r\n\r\n")
w(T, "pipelined", b"GET /health HTTP/1.1\r\nHost: a\r\n\r\nHEAD /vault/entries/2 HTTP/1.1\r\nHost: a\r\n\r\nDELETE /vault/entries/x HTTP/1.1\r\nHost: a\r\n\r\nOPTIONS /vault/entries/1 HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: PUT\r\n\r\nPATCH /health HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\nGET /nope HTTP/1.0\r\n\r\n")
entry = b'{"domain":"d","account_name":"a","pin_or_password":"p","url":"https://x.y/","notes":"n\\n"}'
w(T, "entry_put", b"PUT /vault/entries/12 HTTP/1.1\r\nHost: a\r\nContent-Type: Application/JSON\r\nContent-Length: %d\r\n\r\n" % len(entry) + entry)
w(T, "smuggle_cl_te", b"POST /auth/signup HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\n\r\n")
w(T, "smuggle_two_cl", b"POST /auth/signup HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}")
w(T, "te_http10", b"POST /boom HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
w(T, "boom", b"POST /boom HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
w(T, "http2", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n")
w(T, "big_cl", b"POST /auth/signup HTTP/1.1\r\nHost: a\r\nContent-Length: 70000\r\n\r\n{")
# ---- pg_record: byte 0 the number of fields, then a binary record as record_send writes it
T = "pg_record"


def record(*fields):  # (oid, bytes or None)
    out = struct.pack(">i", len(fields))
    for oid, v in fields:
        out += struct.pack(">Ii", oid, -1 if v is None else len(v)) + (v or b"")
    return out


TEXT, INT8, INT4, BYTEA = 25, 20, 23, 17
session = [(TEXT, "sid-é€".encode()), (INT8, be64(7)), (TEXT, b"jti"), (INT8, be64(1)), (INT8, be64(2)),
           (INT8, be64(3)), (INT8, None), (TEXT, b"curl/8"), (TEXT, b"127.0.0.1"), (INT8, be64(0))]
user = [(INT8, be64(7)), (TEXT, b"alice"), (TEXT, b"a@example.com"), (TEXT, b"$argon2id$..."), (INT8, be64(1))]
handbook = [(TEXT, None), (INT4, struct.pack(">i", 30)), (TEXT, b""), (TEXT, None), (TEXT, b"bio"), (INT8, be64(5))]
w(T, "me", bytes([21]) + record(*session, *user, *handbook))
w(T, "all_null", bytes([3]) + record((TEXT, None), (INT8, None), (BYTEA, None)))
w(T, "empty", bytes([0]) + record())
w(T, "short_len", bytes([1]) + record((BYTEA, b"abcdef"))[:-2])
w(T, "huge_len", bytes([1]) + struct.pack(">iIi", 1, BYTEA, 0x7FFFFFF0) + b"x")
w(T, "negative_len", bytes([1]) + struct.pack(">iIi", 1, BYTEA, -2))
w(T, "trailing", bytes([1]) + record((INT8, be64(1))) + b"\x00")
w(T, "wrong_count", bytes([2]) + record((INT8, be64(1))))
# ---- http_head: raw request bytes (default header limit 16 KiB); "!" + 2 bytes big-endian: another
#      limit, then the request
T = "http_head"


def padded(size, line=b"GET /personal/me HTTP/1.1\r\nHost: a\r\n"):
    """A head of exactly `size` bytes: `line`, then an X-Pad field filling the rest."""
    fixed = len(line) + len(b"X-Pad: \r\n\r\n")
    return line + b"X-Pad: " + b"p" * (size - fixed) + b"\r\n\r\n"


w(T, "get_host", b"GET /health HTTP/1.1\r\nHost: api.example\r\n\r\n")
w(T, "bearer_375", b"GET /personal/me?x=1 HTTP/1.1\r\nHost: api.example\r\nUser-Agent: curl/8.1\r\nAccept: */*\r\n"
  b"Authorization: Bearer " + b64u(b"t" * 281)[:375] + b"\r\nX-Request-ID: req-42\r\n\r\n")
w(T, "conn_close", b"DELETE /vault/entries/7 HTTP/1.1\r\nhost: a\r\nConnection: close\r\n\r\n")
w(T, "conn_keep_alive_10", b"HEAD /health HTTP/1.0\r\nHost: a\r\nCONNECTION: Keep-Alive\r\n\r\n")
w(T, "conn_list", b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n")
w(T, "http10_no_host", b"OPTIONS * HTTP/1.0\r\n\r\n")
w(T, "http10_host", b"GET /health HTTP/1.0\r\nHost: a\r\n\r\nGET /next HTTP/1.0\r\n\r\n")
w(T, "cookies_multi", b"GET /personal/me HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\nX-CSRF-TOKEN: c\r\nCookie: access_token_cookie=tok; b=2\r\ncookie: c=3\r\n\r\n")
w(T, "ows_tabs", b"GET / HTTP/1.1\r\nHost:\ta \t\r\nX-Forwarded-For: \t 198.51.100.1 ,\t10.0.0.2  \t \r\nX-Mid: a\tb  c\r\n\r\n")
w(T, "empty_values", b"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Spaces:   \t \r\nX-Request-ID:\r\n\r\n")
w(T, "obs_fold", b"GET / HTTP/1.1\r\nHost: a\r\nX-Fold: one\r\n two\r\n\ttwo-b\r\n\r\n")
w(T, "content_length", b"POST /auth/signin HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
w(T, "transfer_encoding", b"POST /auth/signin HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
w(T, "bad_del_value", b"GET / HTTP/1.1\r\nHost: a\r\nX-Bad: a\x7fb\r\n\r\n")
w(T, "bad_80_value", b"GET / HTTP/1.1\r\nHost: a\r\nX-Bad: caf\xc3\xa9\x80\r\n\r\n")
w(T, "bad_80_target", b"GET /caf\xc3\xa9/\x80 HTTP/1.1\r\nHost: a\r\n\r\n")
w(T, "lowercase_method", b"get / HTTP/1.1\r\nHost: a\r\n\r\n")
w(T, "two_hosts", b"PUT /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
w(T, "http2_version", b"PATCH / HTTP/2.0\r\nHost: a\r\n\r\n")
w(T, "below_limit", b"!\x01\x00" + padded(255))   # head = limit - 1 bytes
w(T, "at_limit", b"!\x01\x00" + padded(256))      # head = limit bytes
w(T, "max_size", padded(8192))                    # QuickHead::kMaxSize
w(T, "over_max_size", padded(8193))
print("seeds written to", ROOT)
