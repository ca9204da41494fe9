"""Stand-ins for tests and the demo: a real etcd launcher and an in-memory store.

Nothing in the running product imports this package except `confpy demo`, which starts a
throwaway etcd with `confpy.testing.etcd`. `confpy.testing.memory.MemoryStore` is a fake
`Store` for pure-logic unit tests; anything that claims to work with etcd is tested against
the real server that `confpy.testing.etcd.EtcdServer` starts.
"""
