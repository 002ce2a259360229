/**
 * The provider presets, as data only (allauth's provider modules: names, default scopes,
 * endpoints), and the resolution of `socialaccount.providers` entries into `ProviderConfig`s.
 * The input's shape is checked by `config-schema.ts` first; the rules between fields (a client
 * id, a server URL, unique ids, no `dummy` in production) are checked here.
 */
import type { ProviderInput } from "../config.ts";
import { ConfigError } from "../config-schema.ts";
import type { OAuthEndpoints, ProviderConfig, ProviderFlow, ProviderType } from "./types.ts";

interface Preset {
  readonly name: string;
  /** OIDC presets: the issuer (discovery); a function of the entry for tenant or self-hosted ones. */
  readonly serverUrl: ((input: ProviderInput) => string) | null;
  readonly endpoints: OAuthEndpoints | null;
  readonly scope: ReadonlyArray<string>;
  readonly authParams: Readonly<Record<string, string>>;
  readonly fetchUserinfo: boolean;
  readonly uidField: string;
  readonly flows: ReadonlyArray<ProviderFlow>;
  /** Whether the entry may (or, for `openid_connect`, must) name its own `serverUrl`. */
  readonly serverUrlInput: "required" | "optional" | "refused";
}

const redirectOnly: ReadonlyArray<ProviderFlow> = ["provider_redirect"];
const redirectAndToken: ReadonlyArray<ProviderFlow> = ["provider_redirect", "provider_token"];
const oidcScope = ["openid", "profile", "email"];

const oidc = (name: string, serverUrl: (input: ProviderInput) => string, serverUrlInput: Preset["serverUrlInput"]): Preset => ({
  name,
  serverUrl,
  endpoints: null,
  scope: oidcScope,
  authParams: {},
  fetchUserinfo: true,
  uidField: "sub",
  flows: redirectAndToken,
  serverUrlInput,
});

export const providerPresets: Readonly<Record<ProviderType, Preset>> = {
  openid_connect: oidc("OpenID Connect", (input) => input.serverUrl ?? "", "required"),
  github: {
    name: "GitHub",
    serverUrl: null,
    endpoints: {
      issuer: "https://github.com/login/oauth",
      authorizationEndpoint: "https://github.com/login/oauth/authorize",
      tokenEndpoint: "https://github.com/login/oauth/access_token",
      userinfoEndpoint: "https://api.github.com/user",
      emailsEndpoint: "https://api.github.com/user/emails",
    },
    scope: ["read:user", "user:email"],
    authParams: {},
    fetchUserinfo: true,
    uidField: "id",
    flows: redirectOnly,
    serverUrlInput: "refused",
  },
  google: oidc("Google", () => "https://accounts.google.com", "refused"),
  microsoft: oidc("Microsoft", (input) => `https://login.microsoftonline.com/${input.tenant ?? "common"}/v2.0`, "refused"),
  gitlab: oidc("GitLab", (input) => input.serverUrl ?? "https://gitlab.com", "optional"),
  apple: {
    ...oidc("Apple", () => "https://appleid.apple.com", "refused"),
    scope: ["name", "email"],
    authParams: { response_mode: "form_post" },
    fetchUserinfo: false,
  },
  discord: {
    name: "Discord",
    serverUrl: null,
    endpoints: {
      issuer: "https://discord.com",
      authorizationEndpoint: "https://discord.com/api/oauth2/authorize",
      tokenEndpoint: "https://discord.com/api/oauth2/token",
      userinfoEndpoint: "https://discord.com/api/users/@me",
    },
    scope: ["email", "identify"],
    authParams: {},
    fetchUserinfo: true,
    uidField: "id",
    flows: redirectOnly,
    serverUrlInput: "refused",
  },
  dummy: {
    name: "Dummy",
    serverUrl: null,
    endpoints: null,
    scope: [],
    authParams: {},
    fetchUserinfo: false,
    uidField: "id",
    flows: redirectAndToken,
    serverUrlInput: "refused",
  },
};

export const providerTypes = Object.keys(providerPresets) as ReadonlyArray<ProviderType>;

/** allauth's `OpenIDConnectProvider.server_url`: the discovery document's URL. */
export function openidConfigurationUrl(serverUrl: string): string {
  return serverUrl.includes("/.well-known/") ? serverUrl : `${serverUrl.replace(/\/+$/, "")}/.well-known/openid-configuration`;
}

/**
 * Resolves `socialaccount.providers` into provider configs, in the given order. Throws a
 * `ConfigError` naming the entry's field. `production` is whether `NODE_ENV` is "production".
 */
export function resolveProviders(inputs: ReadonlyArray<ProviderInput>, production: boolean): ReadonlyArray<ProviderConfig> {
  const seen = new Map<string, number>();
  return inputs.map((input, index) => {
    const at = (field: string) => `socialaccount.providers[${index}].${field}`;
    const preset = providerPresets[input.type];
    const fail = (field: string, problem: string): never => {
      throw new ConfigError(at(field), problem);
    };
    if (input.type === "dummy") {
      if (production) {
        fail("type", 'the "dummy" provider is for development and tests, and is refused when NODE_ENV is "production"');
      }
      for (const field of ["clientId", "secret"] as const) {
        if (input[field] !== undefined) {
          fail(field, 'the "dummy" provider has no client');
        }
      }
    } else if (input.clientId === undefined) {
      fail("clientId", `required for provider type "${input.type}", missing`);
    }
    if (input.type === "openid_connect") {
      for (const field of ["id", "name"] as const) {
        if (input[field] === undefined) {
          fail(field, 'required for provider type "openid_connect", missing');
        }
      }
    }
    if (preset.serverUrlInput === "required" && input.serverUrl === undefined) {
      fail("serverUrl", `required for provider type "${input.type}" (the issuer), missing`);
    }
    if (preset.serverUrlInput === "refused" && input.serverUrl !== undefined) {
      fail("serverUrl", `not used by provider type "${input.type}" (only openid_connect and gitlab take one)`);
    }
    if (input.tenant !== undefined && input.type !== "microsoft") {
      fail("tenant", 'only provider type "microsoft" takes a tenant');
    }
    const id = input.id ?? input.type;
    const earlier = seen.get(id);
    if (earlier !== undefined) {
      fail(input.id === undefined ? "type" : "id", `provider id "${id}" is already taken by socialaccount.providers[${earlier}]`);
    }
    seen.set(id, index);
    return {
      id,
      type: input.type,
      name: input.name ?? preset.name,
      clientId: input.clientId ?? null,
      secret: input.secret ?? null,
      serverUrl: preset.serverUrl === null ? null : preset.serverUrl(input),
      endpoints: preset.endpoints,
      scope: input.scope ?? preset.scope,
      authParams: { ...preset.authParams, ...input.authParams },
      tokenAuthMethod: input.tokenAuthMethod ?? "client_secret_post",
      fetchUserinfo: input.fetchUserinfo ?? preset.fetchUserinfo,
      uidField: input.uidField ?? preset.uidField,
      verifiedEmail: input.verifiedEmail ?? false,
      emailAuthentication: input.emailAuthentication ?? null,
      flows: preset.flows,
    };
  });
}
