"""Word lists the identity normaliser folds or recognises; data only, no logic.

Each module holds one list so that a reviewer can extend it without reading code: variant
kanji, legal-form words, honorifics, role mailboxes, free-mail domains, prefectures, placeholder
names, English nicknames and given names.
"""
