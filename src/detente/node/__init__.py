"""A party's node on disk: its directory, configuration, key and database."""

from detente.node.directory import (
    CONFIG_FILE,
    KEY_FILE,
    Node,
    NodeConfig,
    Peer,
    TrustedKey,
    init_node,
    open_node,
)

__all__ = [
    "CONFIG_FILE",
    "KEY_FILE",
    "Node",
    "NodeConfig",
    "Peer",
    "TrustedKey",
    "init_node",
    "open_node",
]
