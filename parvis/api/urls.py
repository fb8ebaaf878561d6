"""The client API (its namespace is django-ninja's own, ``mastodon``) and OAuth 2."""

from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from parvis.api import views
from parvis.api.api import api

urlpatterns = [
    path("api/", api.urls),
    re_path(r"^api/(?P<path>.*)$", views.unknown_endpoint),
    path("oauth/authorize", views.authorize, name="oauth_authorize"),
    path("oauth/token", csrf_exempt(views.TokenView.as_view()), name="oauth_token"),
    path("oauth/revoke", csrf_exempt(views.RevokeTokenView.as_view()), name="oauth_revoke"),
    path(".well-known/oauth-authorization-server", views.metadata, name="oauth_metadata"),
]
