/**
 * The mails of the account flows. A flow queues what a mail is about (`QueuedMail`: its kind,
 * recipient, account, link or code); the step renders it before it commits (`render-mails.ts`),
 * through `mail.render` or `renderMail`, the default, which words every mail as allauth does and
 * adds a plain HTML part with every interpolated value escaped. Links are `frontendUrls`
 * templates with `{key}` percent-encoded, made absolute on the origin of the request that sends
 * them (allauth's `build_absolute_uri`); a code stands alone in its own paragraph.
 */
import type { ResolvedConfig } from "./config.ts";

/** The security notices (allauth `ACCOUNT_EMAIL_NOTIFICATIONS`), and the "Account Secured" one. */
export type NotificationKind =
  | "password_changed"
  | "password_set"
  /** The "Password Reset" notice after a reset completed (not the mail that starts one). */
  | "password_reset_done"
  | "email_changed"
  | "email_removed"
  | "account_connected"
  | "account_disconnected"
  | "account_secured";

export type MailKind = "verification" | "password_reset" | "login_code" | "account_exists" | "unknown_account" | NotificationKind;

/** Every kind, in the order the README lists them. */
export const mailKinds: ReadonlyArray<MailKind> = [
  "verification",
  "password_reset",
  "login_code",
  "account_exists",
  "unknown_account",
  "password_changed",
  "password_set",
  "password_reset_done",
  "email_changed",
  "email_removed",
  "account_connected",
  "account_disconnected",
  "account_secured",
];

/** The account a mail is about, as it is when the step that mails commits. */
export interface MailUser {
  readonly id: string;
  /** The primary address, or null. */
  readonly email: string | null;
  readonly username: string | null;
}

/** What `mail.render` gets besides the kind. Every value is plain text: escape it for HTML. */
export interface MailData {
  /** `siteName`. */
  readonly siteName: string;
  /** `account.emailSubjectPrefix` (`"[<siteName>] "` by default). */
  readonly subjectPrefix: string;
  /** The recipient: one canonical address. */
  readonly to: string;
  /**
   * The account: for `account_exists` the one holding `to`; null for `unknown_account` (there is
   * none), and for an account gone by the time the step commits.
   */
  readonly user: MailUser | null;
  /** Link mails (`verification` and `password_reset` in link mode): the absolute link. */
  readonly url?: string;
  /** Code mails (`login_code`; `verification` and `password_reset` in code mode). */
  readonly code?: string;
  /** When the link or code stops working, in ms since the epoch. */
  readonly expiresAt?: number;
  /** `verification`: sent by a signup (link mode), or to an account that never logged in (code mode). */
  readonly signup?: boolean;
  /** `email_removed`: the address that was removed (the mail goes to the primary one). */
  readonly email?: string;
  /** `account_connected`, `account_disconnected`: the provider's name. */
  readonly provider?: string;
}

/** What a renderer returns: all three parts. */
export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export type MailRenderer = (kind: MailKind, data: MailData) => RenderedMail | Promise<RenderedMail>;

/** A mail as a flow queues it: the step looks up the account and renders it before it commits. */
export interface QueuedMail extends Omit<MailData, "siteName" | "subjectPrefix" | "user"> {
  readonly kind: MailKind;
  /** The account's id; null: none (`unknown_account`), or the one holding `to` (`account_exists`). */
  readonly userId: string | null;
}

/**
 * A `frontendUrls` template filled in: `{key}` percent-encoded, a path (`/…`) prefixed with the
 * request's `origin`, and `https` forced when `account.defaultHttpProtocol` says so.
 */
export function frontendLink(config: ResolvedConfig, template: string, origin: string, key?: string): string {
  const filled = key === undefined ? template : template.replace("{key}", encodeURIComponent(key));
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(filled) ? filled : `${origin}${filled}`;
  return config.account.defaultHttpProtocol === "https" ? absolute.replace(/^http:/i, "https:") : absolute;
}

/** A piece of a paragraph: text, or a link or code shown as such in HTML. */
type Piece = string | { readonly link: string } | { readonly code: string };
type Paragraph = ReadonlyArray<Piece>;

const noticeFooter = "If you did not make this change, please take proper security precautions immediately.";

const notices: Record<NotificationKind, (data: MailData) => readonly [string, string]> = {
  password_changed: () => ["Password Changed", "Your password has been changed."],
  password_set: () => ["Password Set", "A password has been set for your account."],
  password_reset_done: () => ["Password Reset", "Your password has been reset."],
  email_changed: () => ["Email Changed", "The email address of your account has been changed from this address."],
  email_removed: (data) => ["Email Removed", `The email address ${required(data.email, "email")} has been removed from your account.`],
  account_connected: (data) => [
    "Third-Party Account Connected",
    `A third-party account from ${required(data.provider, "provider")} has been connected to your account.`,
  ],
  account_disconnected: (data) => [
    "Third-Party Account Disconnected",
    `A third-party account from ${required(data.provider, "provider")} has been disconnected from your account.`,
  ],
  account_secured: () => [
    "Account Secured",
    "This email address was confirmed for your account. Any password set before the confirmation no longer works, " +
      "and every other session of the account has been signed out. To sign in with a password, use the password " +
      "forgotten procedure.",
  ],
};

function required(value: string | undefined, name: string): string {
  if (value === undefined) {
    throw new TypeError(`renderMail: data.${name} is missing`);
  }
  return value;
}

/** The link (link mode) or the code (code mode) of `data`, as its own piece. */
function secretPiece(data: MailData): { readonly link: string } | { readonly code: string } {
  return data.url !== undefined ? { link: data.url } : { code: required(data.code, "code") };
}

const codeIntro = (what: string) => `Your ${what} is listed below. Please enter it in your open browser window.`;

/** Subject (without prefix) and body paragraphs of each kind, in allauth's words. */
function wording(kind: MailKind, data: MailData): readonly [string, ReadonlyArray<Paragraph>] {
  switch (kind) {
    case "verification":
      return data.url !== undefined
        ? [
            "Please Confirm Your Email Address",
            [
              ["You're receiving this email because a user account was registered with this address."],
              ["To confirm this is correct, go to ", { link: data.url }],
            ],
          ]
        : ["Please Confirm Your Email Address", [[codeIntro("email verification code")], [secretPiece(data)]]];
    case "password_reset":
      return data.url !== undefined
        ? [
            "Password Reset Email",
            [
              [
                "You're receiving this email because you or someone else has requested a password reset for " +
                  "your user account. It can be safely ignored if you did not request a password reset. " +
                  "Click the link below to reset your password.",
              ],
              [{ link: data.url }],
            ],
          ]
        : ["Password Reset Code", [[codeIntro("password reset code")], [secretPiece(data)]]];
    case "login_code":
      return ["Sign In Code", [[codeIntro("sign-in code")], [{ code: required(data.code, "code") }]]];
    case "account_exists":
      return [
        "Account Already Exists",
        [
          [
            `You are receiving this email because you, or someone else, tried to sign up for an account ` +
              `using the email address ${data.to}. However, an account using that email address already exists. ` +
              `In case you have forgotten about this, please use the password forgotten procedure to recover ` +
              `your account.`,
          ],
        ],
      ];
    case "unknown_account":
      return [
        "Unknown Account",
        [
          [
            `You are receiving this email because you, or someone else, requested access to an account ` +
              `with the email address ${data.to}. However, we do not have any record of such an account in our ` +
              `database.`,
          ],
          ["This mail can be safely ignored if you did not request it."],
        ],
      ];
    default: {
      const [subject, body] = notices[kind](data);
      return [subject, [[body], [noticeFooter]]];
    }
  }
}

/** Escapes text for HTML content and double-quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function pieceText(piece: Piece): string {
  return typeof piece === "string" ? piece : "link" in piece ? piece.link : piece.code;
}

function pieceHtml(piece: Piece): string {
  if (typeof piece === "string") {
    return escapeHtml(piece);
  }
  if ("link" in piece) {
    return `<a href="${escapeHtml(piece.link)}">${escapeHtml(piece.link)}</a>`;
  }
  return `<strong><code style="font-size: 1.5em; letter-spacing: 0.1em">${escapeHtml(piece.code)}</code></strong>`;
}

/**
 * The default renderer: allauth's subject and text, and a plain, self-contained HTML version
 * (no external resources, no script) of the same paragraphs. A custom `mail.render` can return
 * `renderMail(kind, data)` for the kinds it does not brand.
 */
export function renderMail(kind: MailKind, data: MailData): RenderedMail {
  const [subject, body] = wording(kind, data);
  const paragraphs: ReadonlyArray<Paragraph> = [[`Hello from ${data.siteName}!`], ...body, [`Thank you for using ${data.siteName}!`]];
  const fullSubject = `${data.subjectPrefix}${subject}`;
  const html = [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(fullSubject)}</title>`,
    "</head>",
    '<body style="font-family: sans-serif; line-height: 1.5">',
    ...paragraphs.map((paragraph) => `<p>${paragraph.map(pieceHtml).join("")}</p>`),
    "</body>",
    "</html>",
    "",
  ].join("\n");
  return {
    subject: fullSubject,
    text: `${paragraphs.map((paragraph) => paragraph.map(pieceText).join("")).join("\n\n")}\n`,
    html,
  };
}

/** A key or code mail's secret: the code itself (code mode), or the link to `template` with the key. */
export function keyOrCode(
  config: ResolvedConfig,
  options: { readonly byCode: boolean; readonly secret: string; readonly template: string; readonly origin: string },
): { readonly code: string } | { readonly url: string } {
  return options.byCode ? { code: options.secret } : { url: frontendLink(config, options.template, options.origin, options.secret) };
}
