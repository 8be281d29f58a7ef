import json
import time

import boto3

_secrets = boto3.client("secretsmanager")
_cache = {}  # secret id -> (read at on the wall clock, credentials)
TTL_SECONDS = 300


def skill_credentials(secret_id):
    """(clientId, clientSecret) of a skill secret, or None before the first sync."""
    hit = _cache.get(secret_id)
    if hit and time.time() - hit[0] < TTL_SECONDS:  # wall clock: it runs on while Lambda freezes
        return hit[1]
    value = _secrets.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"]
    secret = json.loads(value)
    creds = None
    if secret.get("clientId") and secret.get("clientSecret"):
        creds = (secret["clientId"], secret["clientSecret"])
        _cache[secret_id] = (time.time(), creds)
    return creds
