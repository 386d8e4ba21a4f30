"""The pools routing reads on every helpline step, loaded once per change, not once per call.

Loading a pool (its row, every advertiser's row, their snapshots and the configuration hash)
costs more than deciding with it, and a pool changes a few times a day. So each process keeps
every pool as plain snapshots (``RoutingConfig``), tagged with the database's configuration
token: triggers on ``advertiser_pool`` and ``advertiser`` (migration 0008) give the one row of
``routing_config_version`` a new random token in the very transaction that changes either table.

A webhook step reads the token with its first statement (the receipt claim, ``note_token``);
``current`` reloads when the cached token differs. The pools are read after the token, so a
cached configuration is never older than its token: a change committed meanwhile only makes the
next step reload once more. A decision therefore never uses a configuration older than the one
in force when its step began, as when every step read the rows itself.
"""

from __future__ import annotations

import functools
import threading
import weakref
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session, selectinload

from finder.calls.models import AdvertiserPool, RoutingConfigVersion
from finder.calls.pool import AdvertiserSnapshot
from finder.calls.snapshots import pool_config_hash, snapshot

#: ``Session.info`` key: the token read by this transaction's receipt claim.
_TOKEN = "finder.routing_config_token"
#: The token, as a scalar subquery another statement can return (``steps._claim``).
TOKEN = (
    sa.select(RoutingConfigVersion.token).where(RoutingConfigVersion.id == 1).scalar_subquery()
)


@dataclass(frozen=True)
class PoolConfig:
    """One pool's routing settings and advertisers, as the policy reads them."""

    id: int
    name: str
    ask_for_zip: bool
    max_attempts: int
    repeat_window_days: int
    min_answer_rate: float
    advertisers: tuple[AdvertiserSnapshot, ...]
    #: ``snapshots.pool_config_hash``: names the configuration a decision was made under.
    config_hash: str

    @classmethod
    def of(cls, pool: AdvertiserPool) -> PoolConfig:
        """From the pool's rows as they are in the session (no cache)."""
        advertisers = list(pool.advertisers)
        snapshots = tuple(snapshot(advertiser) for advertiser in advertisers)
        return cls(pool.id, pool.name, pool.ask_for_zip, pool.max_attempts,
                   pool.repeat_window_days, pool.min_answer_rate, snapshots,
                   pool_config_hash(pool, advertisers))

    @functools.cached_property
    def _by_id(self) -> dict[int, AdvertiserSnapshot]:
        return {advertiser.id: advertiser for advertiser in self.advertisers}

    def advertiser(self, advertiser_id: int | None) -> AdvertiserSnapshot | None:
        return self._by_id.get(advertiser_id)


@dataclass(frozen=True)
class RoutingConfig:
    """Every pool, by id in id order, under the token it was loaded with."""

    token: str | None
    pools: dict[int, PoolConfig]

    def pool(self, pool_id: int | None) -> PoolConfig | None:
        return self.pools.get(pool_id)

    def first(self, name: str | None = None) -> PoolConfig | None:
        """The pool named ``name``, or without a name the oldest pool."""
        return next((pool for pool in self.pools.values() if name is None or pool.name == name),
                    None)

    def pool_of(self, advertiser_id: int | None) -> PoolConfig | None:
        """The pool an advertiser belongs to now."""
        return next((pool for pool in self.pools.values()
                     if pool.advertiser(advertiser_id) is not None), None)


_cached: weakref.WeakKeyDictionary[Engine, RoutingConfig] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def note_token(session: Session, token: str | None) -> None:
    """The token this transaction read (with its first statement); forgotten when it ends."""
    session.info[_TOKEN] = token


def current(session: Session) -> RoutingConfig:
    """The routing configuration in force for this transaction, from the process's cache when
    the database's token says it is still the one in force."""
    token = session.info.get(_TOKEN)
    if token is None:
        token = session.execute(sa.select(TOKEN)).scalar()
        note_token(session, token)
    engine = session.get_bind()
    with _cache_lock:
        cached = _cached.get(engine)
    if cached is not None and token is not None and cached.token == token:
        return cached
    config = load(session, token)
    if token is not None:
        with _cache_lock:
            _cached[engine] = config
    return config


def load(session: Session, token: str | None) -> RoutingConfig:
    """Read every pool and its advertisers now (after ``token`` was read)."""
    pools = session.execute(
        sa.select(AdvertiserPool).options(selectinload(AdvertiserPool.advertisers))
        .order_by(AdvertiserPool.id)
    ).scalars().all()
    return RoutingConfig(token, {pool.id: PoolConfig.of(pool) for pool in pools})


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_token(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_TOKEN, None)
