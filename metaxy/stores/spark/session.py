"""The Spark session a store works in: a given one (checked), or a local one built offline from
``master=``; and metaxy's xxhash UDFs registered in it.

A session is process-wide in PySpark: a store built from ``master=`` reuses the running session when
there is one, and closing a store never stops the session (``spark.stop()`` is the caller's).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

import pyarrow as pa

from metaxy.exceptions import StoreBackendError
from metaxy.stores._drivers import import_driver
from metaxy.stores.spark.schema import XXHASH_UDFS
from metaxy.versioning.hashing import HashAlgorithm, HashSettings, hash_columns

#: a local session that needs no network: no UI, loopback only, no packages fetched at start
OFFLINE_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
#: the Delta Lake connector's session settings (its JARs must be on the classpath)
DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def java_missing() -> str | None:
    """Why no Java runtime can start (None when one is found): Spark's driver runs in a JVM."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return None
    if shutil.which("java"):
        return None
    return "no Java runtime: `java` is not on PATH and JAVA_HOME is not set"


def local_session(where: str, master: str, conf: dict[str, str] | None = None) -> Any:
    """The running session, or a new one on ``master`` with the offline settings (and ``conf``).

    Raises:
        StoreBackendError: no Java runtime, or the JVM did not start.
    """
    sql = import_driver("pyspark.sql", "spark")
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        return active
    missing = java_missing()
    if missing:
        raise StoreBackendError(
            f"{where}: cannot start a Spark session: {missing}.",
            hint="Install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless) or set "
            "JAVA_HOME, or pass spark= an existing SparkSession.",
        )
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the executors' Python: this one
    builder = sql.SparkSession.builder.master(master).appName("metaxy")
    for key, value in {**OFFLINE_CONF, "spark.pyspark.python": sys.executable, **(conf or {})}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j/JVM start failures have many classes
        raise StoreBackendError(
            f"{where}: the Spark session on {master!r} did not start: {str(exc).splitlines()[0]}",
            hint="Check the Java runtime (java -version) and the master URL.",
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


def check_session(where: str, session: Any, *, delta: bool) -> None:
    """Refuse a session the store cannot work in: Spark Connect (no JVM for the file system), or a
    session without the Delta settings when ``table_format="delta"``.

    Raises:
        StoreBackendError: naming the missing piece.
    """
    if getattr(session, "_jsc", None) is None:
        raise StoreBackendError(
            f"{where}: the session is a Spark Connect session; this store needs a classic SparkSession "
            "(it lists and writes table folders through the JVM's Hadoop file system).",
            hint="Build the session with SparkSession.builder (not .remote(...)).",
        )
    if not delta:
        return
    conf = session.conf
    wrong = [key for key, value in DELTA_CONF.items() if value not in (conf.get(key, "") or "")]
    if wrong:
        settings = ", ".join(f"{key}={DELTA_CONF[key]}" for key in wrong)
        raise StoreBackendError(
            f"{where}: table_format='delta' needs the Delta Lake session settings, missing: {settings}.",
            hint="Build the session with them and the delta-spark JARs on the classpath "
            "(spark.jars=...), or use table_format='parquet'.",
        )


def register_xxhash(session: Any) -> None:
    """Register ``metaxy_xxhash32``/``metaxy_xxhash64``: Arrow UDFs running metaxy's own hashing (the
    Polars expression the Polars engine uses) on each batch, in the executors."""
    functions = import_driver("pyspark.sql.functions", "spark")
    for algorithm, name in XXHASH_UDFS.items():
        session.udf.register(name, functions.arrow_udf(_hasher(algorithm), "string"))


def _hasher(algorithm: HashAlgorithm) -> Any:
    settings = HashSettings(algorithm, None)

    def hash_batch(text: pa.Array) -> pa.Array:
        import polars as pl

        frame = pl.DataFrame({"t": pl.Series("t", text, dtype=pl.String)})
        hashed = hash_columns(frame, {"t": pl.col("t")}, settings).to_series()
        return hashed.to_arrow(compat_level=pl.CompatLevel.oldest()).cast(pa.string())

    return hash_batch
