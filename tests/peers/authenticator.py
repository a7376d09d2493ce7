#!/usr/bin/env python3
"""An authenticator app for the tests: pyotp, the library vantage6 itself uses for 2FA, reads the
otpauth:// URI a server handed out and prints the code for now (or OFFSET seconds from now),
followed by the issuer and account name it found in the URI.

    authenticator.py URI [OFFSET]   ->   "<code> <issuer>|<name>"
"""
import sys
import time

import pyotp

totp = pyotp.parse_uri(sys.argv[1])
offset = int(sys.argv[2]) if len(sys.argv) > 2 else 0
print(f"{totp.at(time.time() + offset)} {totp.issuer}|{totp.name}")
