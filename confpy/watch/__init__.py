"""The watch daemon: follow etcd, debounce, render change sets, tell its health."""
