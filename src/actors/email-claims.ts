/**
 * Claims (SECURITY.md EM-09): an unverified address on an account that also has a verified one.
 * A claim never makes the address taken, and it goes once someone else proves the address — by
 * a code or link, or by a provider that verified it at a social signup.
 */
import { Effect } from "effect";
import type { EmailAddressRow } from "../storage/users.ts";
import {
  deleteEmailAddress,
  findEmailClaims,
  findHeldEmailAddresses,
  listEmailAddresses,
  setUserEmail,
  updateEmailAddress,
} from "../storage/users.ts";

/** Whether an account holds `email` (verified, or unverified but not a mere claim). */
export const isAddressHeld = (email: string) => Effect.map(findHeldEmailAddresses(email), (rows) => rows.length > 0);

/**
 * Deletes other accounts' claims on `row`'s address, now proved for `row`; a claim that was its
 * account's primary hands that over to a verified address of the account.
 */
export const dropClaims = (row: Pick<EmailAddressRow, "id" | "user_id" | "email">) =>
  Effect.gen(function* () {
    for (const claim of yield* findEmailClaims(row.email, row.id)) {
      if (claim.user_id === row.user_id) {
        continue;
      }
      yield* deleteEmailAddress(claim.id);
      const heir = (yield* listEmailAddresses(claim.user_id)).find((a) => Number(a.verified) === 1);
      if (Number(claim.is_primary) === 1 && heir !== undefined) {
        yield* updateEmailAddress({ ...heir, is_primary: 1 });
        yield* setUserEmail(claim.user_id, heir.email);
      }
    }
  });
