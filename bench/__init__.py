"""The jobgate benchmark: local upstreams, the gateway as a real process, bounded load, a report."""
