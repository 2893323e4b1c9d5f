from llm_mesh.config.loader import ConfigError, load_config, parse_config
from llm_mesh.config.schema import MeshConfig

__all__ = ["ConfigError", "MeshConfig", "load_config", "parse_config"]
