/**
 * How the headless API shows providers (allauth's `headless/socialaccount/response.py`): one
 * provider, the `socialaccount` key of `GET config`, and the provider flows of a 401.
 */
import type { ResolvedConfig } from "../config.ts";
import { openidConfigurationUrl } from "../social/providers.ts";
import type { ProviderConfig } from "../social/types.ts";

/** allauth's `_provider_data`: its flows by capability, whatever the client. */
export function providerJson(provider: ProviderConfig): Record<string, unknown> {
  const json: Record<string, unknown> = { id: provider.id, name: provider.name, flows: [...provider.flows] };
  if (provider.clientId !== null) {
    json["client_id"] = provider.clientId;
    if (provider.type === "openid_connect" && provider.serverUrl !== null) {
      json["openid_configuration_url"] = openidConfigurationUrl(provider.serverUrl);
    }
  }
  return json;
}

/** The providers a client can start: the browser by redirect, the app by token. */
function usableBy(config: ResolvedConfig, client: "browser" | "app"): ReadonlyArray<ProviderConfig> {
  const flow = client === "browser" ? "provider_redirect" : "provider_token";
  return config.socialaccount.providers.filter((p) => p.flows.includes(flow));
}

/** `GET config`'s `socialaccount`, sorted by name; null when no provider is configured. */
export function socialConfigJson(config: ResolvedConfig, client: "browser" | "app"): Record<string, unknown> | null {
  if (config.socialaccount.providers.length === 0) {
    return null;
  }
  const sorted = [...usableBy(config, client)].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { providers: sorted.map(providerJson) };
}

/** allauth's `provider_flows` (without the pending signup): redirect for the browser, then token. */
export function providerFlowsJson(config: ResolvedConfig, client: "browser" | "app"): Array<Record<string, unknown>> {
  const usable = usableBy(config, client);
  const ids = (flow: "provider_redirect" | "provider_token") => usable.filter((p) => p.flows.includes(flow)).map((p) => p.id);
  const flows: Array<Record<string, unknown>> = [];
  const redirect = ids("provider_redirect");
  if (redirect.length > 0 && client === "browser") {
    flows.push({ id: "provider_redirect", providers: redirect });
  }
  const token = ids("provider_token");
  if (token.length > 0) {
    flows.push({ id: "provider_token", providers: token });
  }
  return flows;
}
