"""Reading what the image viewer drew, from the page."""


def pixel(page, plane: str, point: tuple[float, float]) -> tuple[int, int, int]:
    """The colour drawn on the plane's canvas at a page position."""
    return tuple(page.evaluate("""([plane, x, y]) => {
        const canvas = document.querySelector(`canvas[data-plane=${plane}]`);
        const rect = canvas.getBoundingClientRect();
        const ratio = canvas.width / rect.width;
        const data = canvas.getContext("2d").getImageData(
            Math.floor((x - rect.left) * ratio), Math.floor((y - rect.top) * ratio), 1, 1).data;
        return [data[0], data[1], data[2]];
    }""", [plane, point[0], point[1]]))
