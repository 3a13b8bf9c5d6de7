"""The benchmarks' own PostgreSQL databases, one per benchmark, created when missing."""

import psycopg2
from psycopg2 import sql

SERVER = "postgres://postgres@127.0.0.1:5432"


def database_url(database: str) -> str:
    """A name on the local server (127.0.0.1:5432, user postgres), or a full URL as given."""
    return database if "://" in database else f"{SERVER}/{database}"


def _split(url: str) -> tuple[str, str]:
    server, _, name = url.rpartition("/")
    return server, name.split("?")[0]


def database_exists(url: str) -> bool:
    server, name = _split(url)
    with psycopg2.connect(f"{server}/postgres") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def database_create(url: str) -> None:
    server, name = _split(url)
    connection = psycopg2.connect(f"{server}/postgres")
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()


def database_size_gib(url: str) -> float:
    server, name = _split(url)
    with psycopg2.connect(f"{server}/postgres") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(%s)", [name])
        row = cursor.fetchone()
    return float(row[0]) / 2**30 if row else 0.0
