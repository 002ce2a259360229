import { Context, Layer } from "effect";
import type { ResolvedConfig } from "../config.ts";

/** The resolved configuration, for services that read settings. */
export class Settings extends Context.Tag("authmachines/services/Settings")<Settings, ResolvedConfig>() {
  static layer(config: ResolvedConfig): Layer.Layer<Settings> {
    return Layer.succeed(Settings, config);
  }
}
