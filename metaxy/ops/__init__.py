"""Operations on top of any store: migrations, status, snapshots, stats, impact."""
