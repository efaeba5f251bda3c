"""Role mailboxes and free-mail domains.

A role address (info@, sales@…) is read by a team: it never identifies a person on its own.
A free-mail domain says nothing about the employer; any other domain is organisation evidence.
"""

from __future__ import annotations

ROLE_LOCAL_PARTS: frozenset[str] = frozenset(
    {
        "info", "information", "sales", "support", "contact", "contacts", "admin", "administrator",
        "office", "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply",
        "help", "helpdesk", "team", "hello", "inquiry", "inquiries", "enquiry", "enquiries",
        "otoiawase", "toiawase", "webmaster", "postmaster", "hostmaster", "mailer-daemon",
        "marketing", "press", "pr", "media", "hr", "jobs", "careers", "recruit", "saiyo", "billing",
        "accounts", "accounting", "finance", "keiri", "soumu", "somu", "general", "customer",
        "customers", "service", "services", "cs", "care", "feedback", "abuse", "security",
        "privacy", "legal", "compliance", "orders", "order", "shop", "store", "booking",
        "reservations", "reservation", "yoyaku", "reception", "uketsuke", "mail", "email",
        "newsletter", "news", "notifications", "notification", "alerts", "alert", "system",
        "root", "test", "dev", "it", "ops", "staff", "all", "everyone", "group", "eigyo", "eigyou",
        "kikaku", "jimukyoku", "ir", "csr", "partners", "partner", "events", "event", "seminar",
    }
)
"""Local parts (before any +tag) that name a function, not a person."""

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.jp", "ymail.com", "rocketmail.com",
        "hotmail.com", "hotmail.co.jp", "hotmail.co.uk", "outlook.com", "outlook.jp",
        "live.com", "live.jp", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com",
        "gmx.com", "gmx.de", "gmx.net", "web.de", "proton.me", "protonmail.com", "pm.me",
        "tutanota.com", "zoho.com", "yandex.ru", "yandex.com", "mail.ru", "qq.com", "163.com",
        "126.com", "naver.com", "daum.net", "hanmail.net", "fastmail.com", "hey.com",
        "docomo.ne.jp", "ezweb.ne.jp", "au.com", "softbank.ne.jp", "i.softbank.jp",
        "disney.ne.jp", "ymobile.ne.jp", "y-mobile.ne.jp", "emobile.ne.jp", "willcom.com",
        "rakuten.jp", "nifty.com", "nifty.ne.jp", "biglobe.ne.jp", "ocn.ne.jp", "so-net.ne.jp",
        "plala.or.jp", "dion.ne.jp", "infoseek.jp", "excite.co.jp", "goo.jp", "mail.goo.ne.jp",
        "jcom.home.ne.jp", "kcn.ne.jp", "example.com", "example.jp", "example.org",
        "example.net", "mail.example.com",
    }
)
"""Consumer mailbox providers (and the reserved example domains)."""

PLACEHOLDER_EMAILS: frozenset[str] = frozenset(
    {
        "test@test.com", "test@example.com", "none@none.com", "no@no.com", "a@a.com",
        "dummy@dummy.com", "noemail@noemail.com", "nomail@nomail.com", "na@na.com",
        "unknown@unknown.com", "x@x.com", "xxx@xxx.com", "sample@sample.com",
    }
)
"""Values typed to get past a required field; blocklisted as identifiers."""
