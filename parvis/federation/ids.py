"""The URIs of local ActivityPub objects.

An actor's id is its profile URL and a note's id its permalink: the same URL
serves HTML to browsers and JSON-LD to servers (content negotiation), as
Mastodon's profile URLs do.
"""

from parvis.core.urls import absolute, origin
from parvis.identity.models import Account
from parvis.publishing.models import Post


def actor_uri(account: Account) -> str:
    """The actor id of an account, hosted here or elsewhere."""
    if not account.is_local:
        return account.uri
    return absolute(account.domain.name, f"/@{account.handle}")


def actor_path_uri(account: Account, suffix: str) -> str:
    """A sub-resource of an actor: ``inbox``, ``outbox``, ``followers``…"""
    return f"{actor_uri(account)}/{suffix}"


def rsa_key_id(account: Account) -> str:
    return f"{actor_uri(account)}#main-key"


def ed25519_key_id(account: Account) -> str:
    return f"{actor_uri(account)}#ed25519-key"


def shared_inbox_uri(domain: str) -> str:
    return f"{origin(domain)}/inbox"


def note_uri(post: Post) -> str:
    """The object id of a post, hosted here or elsewhere."""
    return post.uri or f"{actor_uri(post.account)}/{post.id}"


def create_uri(post: Post) -> str:
    return f"{note_uri(post)}/activity"


def instance_actor_uri(domain: str) -> str:
    """The actor that speaks for the server itself on ``domain`` (signed fetches)."""
    return f"{origin(domain)}/actor"


def instance_key_id(domain: str) -> str:
    return f"{instance_actor_uri(domain)}#main-key"
