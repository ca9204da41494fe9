"""Fleet features over etcd: the status record each daemon publishes, reload slots.

`report` builds and publishes a daemon's status record, `slots` takes reload slots
(etcd's semaphore recipe), `guard` holds them around a change set's install and reload,
`fields` checks the resource fields `fleet_group` and `fleet_concurrency`. Only `report`
and `slots` use a store; the command that runs the daemon wires them in.
"""
