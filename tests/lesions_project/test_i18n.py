import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_page_follows_accept_language(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="ru")
    html = response.content.decode()
    assert '<html lang="ru">' in html
    assert "Войти" in html
    assert "Забыли пароль?" in html


@pytest.mark.django_db
def test_switcher_sets_the_language(client):
    response = client.post(reverse("set_language"), {"language": "ru", "next": reverse("home")})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    html = client.get(reverse("home")).content.decode()
    assert '<html lang="ru">' in html
    assert "Проверить пятно на коже по фотографии" in html

    client.post(reverse("set_language"), {"language": "en", "next": reverse("home")})
    assert "Check a skin spot from a photo" in client.get(reverse("home")).content.decode()


@pytest.mark.django_db
def test_russian_result_page(client_a, analysed_study):
    html = client_a.get(
        reverse("studies:study_detail", kwargs={"study_id": analysed_study.id}), HTTP_ACCEPT_LANGUAGE="ru"
    ).content.decode()
    assert "Вероятности всех классов" in html
    assert "Меланома" in html
    assert "не диагноз" in html


def test_every_message_has_a_russian_translation_and_the_catalogue_is_compiled():
    import re
    from pathlib import Path

    from django.conf import settings

    folder = Path(settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES"
    text = (folder / "django.po").read_text()
    entries = re.findall(r'msgid ((?:"(?:[^"\\]|\\.)*"\n)+)msgstr ((?:"(?:[^"\\]|\\.)*"\n)+)', text)
    untranslated = [msgid for msgid, msgstr in entries
                    if msgid.strip() != '""' and not "".join(re.findall(r'"(.*)"', msgstr))]
    assert untranslated == []
    assert "#, fuzzy" not in text  # fuzzy guesses are left out of django.mo
    import gettext

    with (folder / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog
    def text_of(quoted: str) -> str:
        joined = "".join(re.findall(r'"(.*)"', quoted))
        return joined.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")

    keys = {key if isinstance(key, str) else key[0] for key in compiled}
    missing = [text_of(msgid) for msgid, _ in entries
               if msgid.strip() != '""' and text_of(msgid) not in keys]
    assert missing == [], "django.mo is older than django.po: run compilemessages"
