"""Validates a fastauth access token the way a resource server would: PyJWT, knowing only the
JWKS URL. Prints the token's subject. Usage: validate_with_pyjwt.py JWKS_URL TOKEN ISSUER AUDIENCE"""
import sys

import jwt

jwks_url, token, issuer, audience = sys.argv[1:5]
key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
claims = jwt.decode(
    token,
    key.key,
    algorithms=["EdDSA", "ES256", "RS256"],
    issuer=issuer,
    audience=audience,
    options={"require": ["exp", "iat", "iss", "sub", "aud"]},
)
print(claims["sub"])
