"""Words typed into a name field when the name is not known; data only.

A form that insists on a name gets "Unknown", "N/A", "Resident", "Lady of the house" or
"ご担当者": such a value says nothing about who the person is, and compared as a name it would
make two records of one person look like two people (or two strangers alike). Matched on the
name key (lower case, no spaces or punctuation), so "Lady Of The House" and "lady of the
house" are one entry. Real names that also serve as fillers ("House", "Doe", "Friend") are left
out, and so are fillers that are also real names (N/A folds to "na", a Korean surname; "Son",
"Nina"): a placeholder list must not erase people.
"""

from __future__ import annotations

PLACEHOLDER_NAMES: frozenset[str] = frozenset(
    {
        # nothing known, declined, filler
        "unknown", "unk", "unkn", "none", "null", "nil", "nobody", "noname", "nofirstname",
        "nolastname", "nosurname", "nogivenname", "name", "firstname", "lastname", "surname", "fname",
        "lname", "givenname", "familyname", "notknown", "notgiven", "notprovided", "notavailable",
        "notstated", "notspecified", "dontknow", "donotknow", "idontknow", "declined", "refused",
        "refuse", "declinedtostate", "prefernottosay", "anon", "anonymous", "anonymousperson",
        "unnamed", "blank", "tbd", "tba", "test", "testuser", "sample", "dummy", "x", "xx", "xxx",
        "xxxx", "apellido", "sinapellido", "nombre", "sinnombre", "desconocido", "desconocida",
        "nosabe", "inconnu", "unbekannt",
        # who answered rather than a name (household surveys, mail to the occupant)
        "resident", "occupant", "currentresident", "currentoccupant", "householder", "household",
        "headofhousehold", "householdhead", "respondent", "respondant", "person", "adult", "minor",
        "adultmale", "adultfemale", "malechild", "femalechild", "child", "kid", "baby", "infant",
        "newborn", "ladyofthehouse", "ladyofhouse", "manofthehouse", "manofhouse", "headofhouse",
        "ofthehouse", "ofhouse", "thehouse", "ofthehome", "owner", "homeowner", "tenant",
        "sonof", "daughterof", "childof", "wifeof", "husbandof", "ladyof", "ladyofthe", "ladyinthe",
        "manof", "manofthe", "maninthe", "gentlemanof", "youngest", "oldest", "eldest",
        "inmate", "hija", "hijo", "senor", "senora", "delacasa", "decasa",
        "daughter", "grandson", "granddaughter", "grandchild", "mother", "father", "mom",
        "dad", "husband", "wife", "spouse", "brother", "sister", "nephew", "niece", "boy", "girl",
        "male", "female", "gentleman", "lady",
        # CRM and form fillers
        "customer", "client", "guest", "user", "member", "contact", "newcontact", "newlead",
        "lead", "prospect", "visitor", "subscriber",
        # Japanese: unknown, not entered, "the person in charge", "customer"
        "不明", "未設定", "未入力", "未登録", "未記入", "なし", "無し", "名無し", "ななし", "該当なし",
        "テスト", "担当者", "ご担当者", "御担当者", "ご担当", "御担当", "担当", "お客", "お客さま",
        "顧客", "本人", "ご本人", "名前", "氏名", "姓", "名",
    }
)
"""Name keys that mean "no name"."""

PLACEHOLDER_TEXTS: frozenset[str] = frozenset({"n/a", "#n/a", "n.a.", "n. a.", "n/a.", "-/-"})
"""Fillers recognised as typed (lower case), because their key would be a real name ("na")."""
