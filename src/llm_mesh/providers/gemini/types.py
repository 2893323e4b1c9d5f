"""Gemini wire types (generateContent / streamGenerateContent / embeddings), as TypedDicts.

Field names follow the REST (JSON) form of the API: camelCase.
Reference: ai.google.dev/api/generate-content and the Vertex AI v1 REST reference.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict


class Blob(TypedDict):
    mimeType: str
    data: str  # base64


class FileData(TypedDict):
    mimeType: str
    fileUri: str


class FunctionCall(TypedDict, total=False):
    id: str
    name: str
    args: dict[str, Any]


class FunctionResponse(TypedDict, total=False):
    id: str
    name: str
    response: dict[str, Any]


class Part(TypedDict, total=False):
    text: str
    thought: bool
    thoughtSignature: str
    inlineData: Blob
    fileData: FileData
    functionCall: FunctionCall
    functionResponse: FunctionResponse


class Content(TypedDict, total=False):
    role: Literal["user", "model"]
    parts: list[Part]


class FunctionDeclaration(TypedDict, total=False):
    name: str
    description: str
    parameters: dict[str, Any]  # an OpenAPI-subset Schema


class Tool(TypedDict, total=False):
    functionDeclarations: list[FunctionDeclaration]


class FunctionCallingConfig(TypedDict, total=False):
    mode: Literal["AUTO", "ANY", "NONE"]
    allowedFunctionNames: list[str]


class ToolConfig(TypedDict):
    functionCallingConfig: FunctionCallingConfig


class GenerationConfig(TypedDict, total=False):
    temperature: float
    topP: float
    maxOutputTokens: int
    stopSequences: list[str]
    candidateCount: int
    seed: int
    presencePenalty: float
    frequencyPenalty: float
    responseLogprobs: bool
    logprobs: int
    responseMimeType: str
    responseSchema: dict[str, Any]


class GenerateContentRequest(TypedDict, total=False):
    contents: list[Content]
    systemInstruction: Content
    tools: list[Tool]
    toolConfig: ToolConfig
    generationConfig: GenerationConfig
    safetySettings: list[dict[str, str]]


class UsageMetadata(TypedDict, total=False):
    promptTokenCount: int
    cachedContentTokenCount: int
    candidatesTokenCount: int
    toolUsePromptTokenCount: int
    thoughtsTokenCount: int
    totalTokenCount: int


class Candidate(TypedDict, total=False):
    index: int
    content: Content
    finishReason: str
    safetyRatings: list[dict[str, Any]]


class PromptFeedback(TypedDict, total=False):
    blockReason: str
    safetyRatings: list[dict[str, Any]]


class GenerateContentResponse(TypedDict, total=False):
    candidates: list[Candidate]
    promptFeedback: PromptFeedback
    usageMetadata: UsageMetadata
    modelVersion: str
    responseId: str


class EmbedContentRequest(TypedDict, total=False):
    model: str
    content: Content
    taskType: str
    outputDimensionality: int


class BatchEmbedContentsRequest(TypedDict):
    requests: list[EmbedContentRequest]


class ContentEmbedding(TypedDict):
    values: list[float]


class BatchEmbedContentsResponse(TypedDict):
    embeddings: list[ContentEmbedding]


class VertexEmbeddingInstance(TypedDict, total=False):
    content: str
    task_type: str


class VertexPredictRequest(TypedDict, total=False):
    instances: list[VertexEmbeddingInstance]
    parameters: dict[str, Any]  # outputDimensionality, autoTruncate


class GoogleError(TypedDict, total=False):
    code: int
    message: str
    status: str  # google.rpc.Code name: RESOURCE_EXHAUSTED, INVALID_ARGUMENT, UNAVAILABLE...
    details: list[dict[str, Any]]
