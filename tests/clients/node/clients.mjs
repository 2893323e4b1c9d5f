// Drives the Node `openai` package and the Vercel AI SDK (`ai` + `@ai-sdk/openai`, whose default
// provider model speaks the Responses API), unchanged, against a running mesh.
// Env: MESH_BASE_URL (".../v1"), MESH_API_KEY. Prints one JSON object: case name -> result or {error}.
// Run by tests/clients/test_node_clients.py; every request's method + path is recorded per case.
import OpenAI from "openai";
import { zodTextFormat } from "openai/helpers/zod";
import { generateObject, generateText, Output, streamText, tool, stepCountIs } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { z } from "zod";

const baseURL = process.env.MESH_BASE_URL;
const apiKey = process.env.MESH_API_KEY;
let paths = [];
const recordingFetch = (input, init) => {
  const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  paths.push(`${init?.method ?? "GET"} ${url.pathname}`);
  return fetch(input, init);
};

const TOOL = {
  type: "function", name: "get_order", description: "Look an order up by its number.",
  parameters: { type: "object", properties: { number: { type: "string" } }, required: ["number"] },
};
const openai = new OpenAI({ baseURL, apiKey, maxRetries: 0, fetch: recordingFetch });
const provider = createOpenAI({ baseURL, apiKey, fetch: recordingFetch });
const getOrder = tool({
  description: "Look an order up by its number.",
  inputSchema: z.object({ number: z.string() }),
  execute: async ({ number }) => `order ${number} shipped yesterday`,
});

const Order = z.object({ number: z.string(), quantity: z.number().int() });

const cases = {
  async openai_create() {
    const r = await openai.responses.create({ model: "echo", instructions: "be brief", input: "hello there" });
    return { status: r.status, id: r.id, text: r.output_text, usage: r.usage };
  },
  async openai_stream() {
    const stream = openai.responses.stream({ model: "echo", input: "count to three" });
    const kinds = [];
    let deltas = "";
    for await (const event of stream) {
      kinds.push(event.type);
      if (event.type === "response.output_text.delta") deltas += event.delta;
    }
    const final = await stream.finalResponse();
    const text = final.output.flatMap((item) => item.content ?? []).map((part) => part.text).join("");
    return { kinds, deltas, text, status: final.status, usage: final.usage };
  },
  async openai_tool_call() {
    const first = await openai.responses.create({ model: "gpt", input: "where is order 42?", tools: [TOOL] });
    const call = first.output.find((item) => item.type === "function_call");
    const second = await openai.responses.create({
      model: "gpt", tools: [TOOL], input: [
        { role: "user", content: "where is order 42?" },
        { type: "function_call", call_id: call.call_id, name: call.name, arguments: call.arguments },
        { type: "function_call_output", call_id: call.call_id, output: "shipped yesterday" },
      ],
    });
    return { call: { name: call.name, call_id: call.call_id, arguments: JSON.parse(call.arguments) },
             final: { types: second.output.map((item) => item.type), text: second.output_text } };
  },
  async openai_parse() {
    const r = await openai.responses.parse({
      model: "gpt", input: "order 42, three units", text: { format: zodTextFormat(Order, "order") },
    });
    return { parsed: r.output_parsed };
  },
  async ai_generate_text() {
    const r = await generateText({ model: provider("echo"), system: "be brief", prompt: "hello there" });
    return { text: r.text, finishReason: r.finishReason, usage: r.usage, responseId: r.response.id };
  },
  async ai_stream_text() {
    const r = streamText({ model: provider("echo"), prompt: "count to three" });
    const parts = [];
    for await (const delta of r.textStream) parts.push(delta);
    return { parts, text: await r.text, finishReason: await r.finishReason, usage: await r.usage };
  },
  async ai_tool_call() {
    const r = await generateText({
      model: provider("gpt"), tools: { get_order: getOrder }, stopWhen: stepCountIs(3),
      prompt: "where is order 42?",
    });
    return {
      steps: r.steps.map((step) => ({
        finishReason: step.finishReason,
        toolCalls: step.toolCalls.map((c) => ({ toolName: c.toolName, input: c.input, toolCallId: c.toolCallId })),
        toolResults: step.toolResults.map((t) => ({ toolName: t.toolName, output: t.output })),
      })),
      text: r.text,
    };
  },
  async ai_structured_output() {
    const object = (await generateObject({ model: provider("gpt"), schema: Order, prompt: "order 42, three units" }))
      .object;
    const viaOutput = await generateText({
      model: provider("gpt"), output: Output.object({ schema: Order }), prompt: "order 7, two units",
    });
    return { object, output: viaOutput.output };
  },
  async ai_unknown_route() {
    try {
      await generateText({ model: provider("no-such-route"), prompt: "hi", maxRetries: 0 });
      return { thrown: false };
    } catch (error) {
      return { thrown: true, name: error.name, statusCode: error.statusCode, message: error.message };
    }
  },
  async ai_stream_tool_call() {
    const r = streamText({
      model: provider("gpt"), tools: { get_order: getOrder }, stopWhen: stepCountIs(3),
      prompt: "where is order 7?",
    });
    const kinds = new Set();
    for await (const part of r.fullStream) kinds.add(part.type);
    const steps = await r.steps;
    return { kinds: [...kinds], stepCount: steps.length, toolNames: steps[0].toolCalls.map((c) => c.toolName),
             text: await r.text };
  },
};

const results = {};
for (const [name, run] of Object.entries(cases)) {
  paths = [];
  try {
    results[name] = { ...(await run()), paths };
  } catch (error) {
    results[name] = { error: String(error?.stack ?? error).split("\n").slice(0, 3).join(" | "), paths };
  }
}
process.stdout.write(JSON.stringify(results) + "\n");
