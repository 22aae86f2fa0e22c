// JSON request bodies are validated without type coercion. Fastify's default validator coerces
// ("array" mode, right for query strings and path parameters, which are text on the wire), so a body
// {"keytable": 123} would pass as "123" and ["x"] would stand in for "x". Routes that take a JSON body
// use this compiler instead: a wrong type in the body is a 400 naming the property; the URL's parts
// are coerced as fastify does.
import { Ajv, type AnySchema } from "ajv";
import type { FastifySchemaCompiler } from "fastify";

const strict = new Ajv({ coerceTypes: false, useDefaults: true, allErrors: false, strict: false });
const text = new Ajv({ coerceTypes: "array", useDefaults: true, removeAdditional: true, allErrors: false, strict: false });

/** Route option `validatorCompiler` for routes with a JSON body. */
export const strictJsonValidator: FastifySchemaCompiler<AnySchema> = ({ schema, httpPart }) => (httpPart === "body" ? strict : text).compile(schema);
