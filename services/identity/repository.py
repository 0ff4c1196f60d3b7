"""The identity service's Cassandra tables."""

from datetime import datetime

from services.identity.domain import Account, App, Code, Grant, Person
from services.runtime.cassandra import CassandraSession
from services.runtime.clock import as_utc

OPERATOR = "operator"


class IdentityRepository:
    def __init__(self, session: CassandraSession, keyspace: str) -> None:
        self._db = session
        self._ks = keyspace

    async def operator_secret_hash(self) -> bytes | None:
        rows = await self._db.execute(f"SELECT secret_hash FROM {self._ks}.operators WHERE name = ?", (OPERATOR,))
        return rows[0].secret_hash if rows else None

    async def save_operator_secret_hash(self, secret_hash: bytes, at: datetime) -> bool:
        """Only if none is stored yet; False when one was (a second setup keeps the first credential)."""
        rows = await self._db.execute(
            f"INSERT INTO {self._ks}.operators (name, secret_hash, create_time) VALUES (?, ?, ?) IF NOT EXISTS",
            (OPERATOR, secret_hash, at),
            idempotent=False,
        )
        return bool(rows[0].applied)

    # People.

    async def claim_username(self, key: str, person_id: int, request_id: str) -> tuple[bool, int, str]:
        """Reserve a username with a lightweight transaction: (claimed, the holder's person id, its request id)."""
        rows = await self._db.execute(
            f"INSERT INTO {self._ks}.people_by_username (username_key, person_id, request_id) VALUES (?, ?, ?) "
            "IF NOT EXISTS",
            (key, person_id, request_id),
            idempotent=False,
        )
        row = rows[0]
        if row.applied:  # an applied transaction answers [applied] alone
            return True, person_id, request_id
        return False, row.person_id, row.request_id or ""

    async def claim_email(self, key: str, person_id: int) -> tuple[bool, int]:
        """(claimed, the holder's person id)."""
        rows = await self._db.execute(
            f"INSERT INTO {self._ks}.people_by_email (email_key, person_id) VALUES (?, ?) IF NOT EXISTS",
            (key, person_id),
            idempotent=False,
        )
        return (True, person_id) if rows[0].applied else (False, rows[0].person_id)

    async def release_username(self, key: str, person_id: int) -> None:
        """Give back a username this person claimed but could not use (only theirs: never another's claim)."""
        await self._db.execute(
            f"DELETE FROM {self._ks}.people_by_username WHERE username_key = ? IF person_id = ?",
            (key, person_id),
            idempotent=False,
        )

    async def release_email(self, key: str, person_id: int) -> None:
        await self._db.execute(
            f"DELETE FROM {self._ks}.people_by_email WHERE email_key = ? IF person_id = ?",
            (key, person_id),
            idempotent=False,
        )

    async def person_id_by_username(self, key: str) -> int | None:
        rows = await self._db.execute(
            f"SELECT person_id FROM {self._ks}.people_by_username WHERE username_key = ?", (key,)
        )
        return rows[0].person_id if rows else None

    async def person_id_by_email(self, key: str) -> int | None:
        rows = await self._db.execute(f"SELECT person_id FROM {self._ks}.people_by_email WHERE email_key = ?", (key,))
        return rows[0].person_id if rows else None

    async def save_person(self, person: Person, password_hash: str | None) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.people (person_id, username, email, password_hash, create_time) "
            "VALUES (?, ?, ?, ?, ?)",
            (person.person_id, person.username, person.email, password_hash, person.create_time),
        )

    async def get_person(self, person_id: int) -> tuple[Person, str | None] | None:
        """(the person, their password hash or None when they have none yet); None for no such person."""
        rows = await self._db.execute(
            f"SELECT username, email, password_hash, create_time FROM {self._ks}.people WHERE person_id = ?",
            (person_id,),
        )
        if not rows:
            return None
        row = rows[0]
        return Person(person_id, row.username, row.email or "", as_utc(row.create_time)), row.password_hash

    async def set_password_hash(self, person_id: int, password_hash: str) -> None:
        await self._db.execute(
            f"UPDATE {self._ks}.people SET password_hash = ? WHERE person_id = ?", (password_hash, person_id)
        )

    # Accounts.

    async def save_account(self, person_id: int, account: Account) -> None:
        """Both directions in one logged batch: an account is never one person's without that person having it."""
        await self._db.execute(
            "BEGIN BATCH "
            f"INSERT INTO {self._ks}.accounts_by_person (person_id, user_id, handle, display_name) VALUES (?, ?, ?, ?);"
            f"INSERT INTO {self._ks}.account_owners (user_id, person_id) VALUES (?, ?);"
            "APPLY BATCH",
            (person_id, account.user_id, account.handle, account.display_name, account.user_id, person_id),
        )

    async def accounts_of(self, person_id: int) -> list[Account]:
        """Oldest first (user ids are time-ordered)."""
        rows = await self._db.execute(
            f"SELECT user_id, handle, display_name FROM {self._ks}.accounts_by_person WHERE person_id = ?",
            (person_id,),
        )
        return [Account(row.user_id, row.handle, row.display_name) for row in rows]

    async def owner_of(self, user_id: int) -> int | None:
        rows = await self._db.execute(f"SELECT person_id FROM {self._ks}.account_owners WHERE user_id = ?", (user_id,))
        return rows[0].person_id if rows else None

    # Sign-in sessions.

    async def save_session(self, token_hash: bytes, person_id: int, created: datetime, expires: datetime) -> None:
        """The session and its place among the person's, in one logged batch and with one TTL: both go together."""
        ttl = int((expires - created).total_seconds())
        await self._db.execute(
            "BEGIN BATCH "
            f"INSERT INTO {self._ks}.sessions (token_hash, person_id, create_time, expire_time) VALUES (?, ?, ?, ?) "
            "USING TTL ?;"
            f"INSERT INTO {self._ks}.sessions_by_person (person_id, token_hash) VALUES (?, ?) USING TTL ?;"
            "APPLY BATCH",
            (token_hash, person_id, created, expires, ttl, person_id, token_hash, ttl),
        )

    async def session(self, token_hash: bytes) -> tuple[int, datetime] | None:
        """(the person, when the session expires)."""
        rows = await self._db.execute(
            f"SELECT person_id, expire_time FROM {self._ks}.sessions WHERE token_hash = ?", (token_hash,)
        )
        return (rows[0].person_id, as_utc(rows[0].expire_time)) if rows else None

    async def delete_sessions(self, person_id: int, token_hashes: list[bytes]) -> None:
        for token_hash in token_hashes:
            await self._db.execute(
                "BEGIN BATCH "
                f"DELETE FROM {self._ks}.sessions WHERE token_hash = ?;"
                f"DELETE FROM {self._ks}.sessions_by_person WHERE person_id = ? AND token_hash = ?;"
                "APPLY BATCH",
                (token_hash, person_id, token_hash),
            )

    async def sessions_of(self, person_id: int) -> list[bytes]:
        rows = await self._db.execute(
            f"SELECT token_hash FROM {self._ks}.sessions_by_person WHERE person_id = ?", (person_id,)
        )
        return [row.token_hash for row in rows]

    # OAuth apps, codes and tokens.

    async def save_app(self, app: App, secret_hash: bytes) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.apps (client_id, secret_hash, name, redirect_uris, scopes, website, create_time) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                app.client_id,
                secret_hash,
                app.name,
                list(app.redirect_uris),
                set(app.scopes),
                app.website,
                app.create_time,
            ),
        )

    async def get_app(self, client_id: str) -> tuple[App, bytes] | None:
        """(the app, its secret's hash)."""
        rows = await self._db.execute(
            f"SELECT secret_hash, name, redirect_uris, scopes, website, create_time FROM {self._ks}.apps "
            "WHERE client_id = ?",
            (client_id,),
        )
        if not rows:
            return None
        row = rows[0]
        app = App(
            client_id,
            row.name,
            tuple(row.redirect_uris or ()),
            frozenset(row.scopes or ()),
            row.website or "",
            as_utc(row.create_time),
        )
        return app, row.secret_hash

    async def save_code(self, code_hash: bytes, code: Code, ttl_seconds: int) -> None:
        grant = code.grant
        await self._db.execute(
            f"INSERT INTO {self._ks}.authorization_codes (code_hash, client_id, redirect_uri, person_id, user_id, "
            "scopes, code_challenge, code_challenge_method) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?",
            (
                code_hash,
                grant.client_id,
                code.redirect_uri,
                grant.person_id,
                grant.user_id,
                set(grant.scopes),
                code.code_challenge,
                code.code_challenge_method,
                ttl_seconds,
            ),
        )

    async def get_code(self, code_hash: bytes) -> Code | None:
        rows = await self._db.execute(
            f"SELECT client_id, redirect_uri, person_id, user_id, scopes, code_challenge, code_challenge_method "
            f"FROM {self._ks}.authorization_codes WHERE code_hash = ?",
            (code_hash,),
        )
        if not rows:
            return None
        row = rows[0]
        grant = Grant(row.client_id, frozenset(row.scopes or ()), row.person_id, row.user_id)
        return Code(grant, row.redirect_uri or "", row.code_challenge or "", row.code_challenge_method or "")

    async def spend_code(self, code_hash: bytes) -> bool:
        """Delete the code with a lightweight transaction: True for the one caller that deleted it, so two
        exchanges of one code racing each other cannot both succeed."""
        rows = await self._db.execute(
            f"DELETE FROM {self._ks}.authorization_codes WHERE code_hash = ? IF EXISTS", (code_hash,), idempotent=False
        )
        return bool(rows[0].applied)

    async def save_token(self, token_hash: bytes, grant: Grant, created: datetime) -> None:
        await self._db.execute(
            f"INSERT INTO {self._ks}.access_tokens (token_hash, client_id, person_id, user_id, scopes, create_time) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (token_hash, grant.client_id, grant.person_id, grant.user_id, set(grant.scopes), created),
        )

    async def get_token(self, token_hash: bytes) -> Grant | None:
        rows = await self._db.execute(
            f"SELECT client_id, person_id, user_id, scopes FROM {self._ks}.access_tokens WHERE token_hash = ?",
            (token_hash,),
        )
        if not rows:
            return None
        row = rows[0]
        return Grant(row.client_id, frozenset(row.scopes or ()), row.person_id or 0, row.user_id or 0)

    async def delete_token(self, token_hash: bytes) -> None:
        await self._db.execute(f"DELETE FROM {self._ks}.access_tokens WHERE token_hash = ?", (token_hash,))
