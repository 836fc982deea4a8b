// better-auth's email and password sign-in on SQLite (better-sqlite3), set up as its docs show,
// with two changes for an equal comparison: passwords hashed with Argon2id m=19456 t=2 p=1, as
// fastauth's are, and its rate limiter off, as fastauth's is during the benchmarks. Sign-up signs
// in as well (its default), as fastauth's does. PEER_PORT and PEER_DB set where it listens and keeps
// its database.
import http from "node:http";
import { Algorithm, hash, verify } from "@node-rs/argon2";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";

const port = Number(process.env.PEER_PORT);
const argon2 = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const database = new Database(process.env.PEER_DB);
database.pragma("journal_mode = WAL");

const auth = betterAuth({
  baseURL: `http://127.0.0.1:${port}`,
  secret: "bench-secret-bench-secret-bench-secret-0123",
  database,
  rateLimit: { enabled: false },
  emailAndPassword: {
    enabled: true,
    password: {
      hash: (password) => hash(password, argon2),
      verify: ({ hash: stored, password }) => verify(stored, password),
    },
  },
});

const { runMigrations } = await getMigrations(auth.options);
await runMigrations();
http.createServer(toNodeHandler(auth)).listen(port, "127.0.0.1", () => {
  console.log(`better-auth listening on 127.0.0.1:${port}`);
});
