/**
 * The Next.js config the recipe needs: the providers' callbacks end in `/`, which Next would
 * otherwise redirect to the path without it (`/accounts/…/callback/` → `…/callback`), a path
 * the handler does not serve.
 */
const nextConfig = {
  skipTrailingSlashRedirect: true,
};

export default nextConfig;
