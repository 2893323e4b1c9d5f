"""Provider instances for one runtime, created lazily from the config.

A provider whose credential is missing does not stop the mesh from starting:
routes through it answer 503 naming the missing variable (never its value).
"""

from __future__ import annotations

from llm_mesh.config.schema import MeshConfig
from llm_mesh.errors import MeshError, UpstreamUnavailable
from llm_mesh.gateway.scrub import RememberingResolver, SecretScrubber
from llm_mesh.providers.base import Provider, SecretResolver
from llm_mesh.providers.catalog import PROVIDER_KINDS, load_attribute


class ProviderPool:
    def __init__(self, config: MeshConfig, secrets: SecretResolver) -> None:
        self._config = config
        self.scrubber = SecretScrubber()
        self._secrets = RememberingResolver(secrets, self.scrubber)
        self._providers: dict[str, Provider] = {}

    def get(self, name: str) -> Provider:
        provider = self._providers.get(name)
        if provider is not None:
            return provider
        provider_config = self._config.providers.get(name)
        if provider_config is None:
            raise UpstreamUnavailable(f"provider {name!r} is not configured")
        factory = load_attribute(PROVIDER_KINDS[provider_config.kind].factory)
        try:
            provider = factory(name, provider_config, self._secrets)
        except MeshError as error:
            raise self.scrubber.clean(error)
        except Exception as exc:  # a broken provider must not take the request down with a 500
            raise UpstreamUnavailable(f"provider {name!r} could not be initialised ({type(exc).__name__})") from None
        self._providers[name] = provider
        return provider

    def warm(self) -> list[str]:
        """Create every provider that can be created now; return the names that could not."""
        unavailable = []
        for name in self._config.providers:
            try:
                self.get(name)
            except MeshError:
                unavailable.append(name)
        return unavailable

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        self._providers.clear()
