#!/bin/sh
# Add Order Desk to this user's application menu (no root needed). Run it from the extracted
# bundle folder, wherever that is (e.g. ~/.local/opt/OrderDesk/install-desktop-entry.sh):
# it writes ~/.local/share/applications/order-desk.desktop with the bundle's path, copies the
# icons to ~/.local/share/icons/hicolor/ and links ~/.local/bin/OrderDesk. Run it again after
# moving the folder. To remove: delete those three files (and the folder).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
[ -x "$here/OrderDesk" ] || { echo "OrderDesk not found in $here" >&2; exit 1; }
mkdir -p "$data/applications" "$data/icons/hicolor/256x256/apps" \
  "$data/icons/hicolor/scalable/apps" "$HOME/.local/bin"
cp "$here/order-desk.png" "$data/icons/hicolor/256x256/apps/order-desk.png"
cp "$here/order-desk.svg" "$data/icons/hicolor/scalable/apps/order-desk.svg"
# Exec/TryExec get the absolute path (quoted for spaces) so no PATH change is needed.
sed -e "s|^Exec=OrderDesk|Exec=\"$here/OrderDesk\"|" -e "s|^TryExec=OrderDesk|TryExec=$here/OrderDesk|" \
  "$here/order-desk.desktop" >"$data/applications/order-desk.desktop"
ln -sf "$here/OrderDesk" "$HOME/.local/bin/OrderDesk"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
echo "Order Desk added to the application menu ($data/applications/order-desk.desktop)"
