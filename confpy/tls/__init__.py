"""TLS keypairs: issue, name, inspect, rotate into etcd."""
