-- GET a path with a Bearer token (and optional vault token) taken from the environment.
local token = os.getenv("SR_TOKEN")
local vault = os.getenv("SR_VAULT_TOKEN")
wrk.headers["Authorization"] = "Bearer " .. token
if vault and #vault > 0 then wrk.headers["X-Vault-Token"] = vault end
