"""SnapStart: what a restored container resets (the runtime calls the registered hooks)."""

import importlib

import snapshot_restore_py

from auralink import db, secrets, snapstart


def test_restore_hooks_reset_the_connection_the_secrets_and_random():
    importlib.reload(snapstart)
    hooks = {(hook.__module__, hook.__name__) for hook, *_ in snapshot_restore_py.get_after_restore()}

    assert (db.reset_connection.__module__, "reset_connection") in hooks
    assert (secrets.reset_caches.__module__, "reset_caches") in hooks
    assert ("auralink.snapstart", "_reseed_random") in hooks
