"""YAML files that users write (ablation specs, presets, ``dataset.yaml``), read with the
line of every key so that each error names ``file:line`` and the key (the bottom layer:
it imports nothing of sbr)."""
