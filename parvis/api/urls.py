"""The client API (its namespace is django-ninja's own, ``mastodon``) and OAuth 2."""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as oauth_views

from parvis.api import views
from parvis.api.api import api

urlpatterns = [
    path("api/", api.urls),
    path("oauth/authorize", views.authorize, name="oauth_authorize"),
    path("oauth/token", csrf_exempt(oauth_views.TokenView.as_view()), name="oauth_token"),
    path("oauth/revoke", csrf_exempt(oauth_views.RevokeTokenView.as_view()), name="oauth_revoke"),
    path(".well-known/oauth-authorization-server", views.metadata, name="oauth_metadata"),
]
