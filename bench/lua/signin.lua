-- POST /auth/signin with a fixed user; every request costs one Argon2id verification.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"username":"%s","password":"%s"}', os.getenv("SR_USER"), os.getenv("SR_PASS"))
