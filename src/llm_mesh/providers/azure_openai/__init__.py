"""Azure OpenAI: deployments, api-version, api-key or Entra ID tokens, content filters."""
