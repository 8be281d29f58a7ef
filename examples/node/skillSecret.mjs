import { SecretsManagerClient, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";

const secrets = new SecretsManagerClient({});
const cache = new Map(); // secret id -> { readAt (wall clock), creds }
const TTL_MS = 300_000;

// { clientId, clientSecret } of a skill secret, or null before the first sync.
export async function skillCredentials(secretId) {
  const hit = cache.get(secretId);
  if (hit && Date.now() - hit.readAt < TTL_MS) return hit.creds;
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: "AWSCURRENT" }));
  const secret = JSON.parse(out.SecretString);
  if (!secret.clientId || !secret.clientSecret) return null;
  const creds = { clientId: secret.clientId, clientSecret: secret.clientSecret };
  cache.set(secretId, { readAt: Date.now(), creds });
  return creds;
}
