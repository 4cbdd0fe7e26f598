#!/usr/bin/env python3
"""Fills a wegate SQLite file with users (each with a WeCom identity) and audit rows, for the scale figures of
bench/README.md. The server must be stopped (it holds its file exclusively).

    python3 bench/fill.py FILE [USERS=100000] [AUDIT_ROWS=1000000]

Rows look like the real ones: users with username, email and name (the unique normalised columns filled),
identities keyed by (wecom:<corp>, userid), audit events of the last 30 days with ids made from their time as
wegate makes them (seconds * 1,024,000,000 + a counter).
"""
import sqlite3
import sys
import time

IDS_PER_SECOND = 1_000_000 * 1024


def main():
    path = sys.argv[1]
    users = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    audit_rows = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    now = int(time.time())
    started = time.time()
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO users (id, username, username_norm, email, email_norm, name, claims, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, '{}', ?, ?)",
            (
                (f"fill{i:07d}", f"filler{i}", f"filler{i}", f"filler{i}@example.com", f"filler{i}@example.com",
                 f"Filler {i}", now, now)
                for i in range(users)
            ),
        )
        db.executemany(
            "INSERT INTO identities (upstream, subject, user_id, connection, profile, created_at, updated_at) "
            "VALUES ('wecom:wwfillcorp', ?, ?, 'wecom', '{}', ?, ?)",
            ((f"filler{i}", f"fill{i:07d}", now, now) for i in range(users)),
        )
        start = now - 30 * 86400
        span = 30 * 86400 - 3600
        db.executemany(
            "INSERT INTO audit_events (id, occurred_at, event, client_id, connection, user_id) "
            "VALUES (?, ?, 'login.success', 'filler-app', 'wecom', ?)",
            (
                ((start + i * span // audit_rows) * IDS_PER_SECOND + i % 1000, start + i * span // audit_rows,
                 f"fill{i % max(users, 1):07d}")
                for i in range(audit_rows)
            ),
        )
    db.close()
    print(f"{users} users and identities, {audit_rows} audit rows in {time.time() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
