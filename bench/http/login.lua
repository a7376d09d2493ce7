-- wrk script: POST /api/token/user as root (bcrypt-bound).
wrk.method = "POST"
wrk.body = '{"username": "root", "password": "root"}'
wrk.headers["Content-Type"] = "application/json"
